#include "adapters/filedrop/file_drop.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/log_escape.h"
#include "adapters/filedrop/drop_file.h"
#include "core/durable_dir.h"
#include "core/london_time.h"

namespace refx::adapters {
namespace {

using Clock = std::chrono::system_clock;

Status Errno(const std::string& what) { return Status::IoError(what + ": " + std::strerror(errno)); }

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return Errno("mkdir " + dir);
  return Status::OK();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string ReportName(const std::string& name) { return name + ".report.txt"; }

// `name` if neither it nor its report is in `dir`, else NAME~2.EXT, ~3, ...
std::string FreeName(const std::string& dir, const std::string& name) {
  const size_t dot = name.rfind('.');
  const std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
  std::string candidate = name;
  for (int n = 2; Exists(dir + "/" + candidate) || Exists(dir + "/" + ReportName(candidate)); ++n) {
    candidate = stem + "~" + std::to_string(n) + ext;
  }
  return candidate;
}

std::string Where(const std::string& name, DropKind kind, int64_t row) {
  if (row == 0 || kind == DropKind::kJson) return name;
  return name + ":" + std::to_string(row);
}

// The report beside a rejected file: what went through, what did not, why.
std::string ReportText(const std::string& name, const std::string& stored_as, const FileDropOptions& options,
                       const DropReadResult& result, Clock::time_point taken) {
  const DropKind kind = DropKindOf(name);
  std::string out;
  out += "refx file drop report\n";
  out += "file:          " + name + "\n";
  out += "taken:         " + LondonTimeSeconds(Clock::to_time_t(taken)) + "\n";
  out += "agency:        " + options.agency_id + "\n";
  if (kind == DropKind::kCsv && options.csv_format) {
    out += "format:        " + options.csv_format->name() +
           " (rows numbered as a spreadsheet shows them: the header is row 1)\n";
  } else if (kind == DropKind::kJsonl) {
    out += "format:        JSON lines (rows are line numbers)\n";
  }
  out += "rows spooled:  " + std::to_string(result.rows_good) +
         " (on their way to the broker; sent again, they still land once)\n";
  out += "rows refused:  " + std::to_string(result.rows_bad) + "\n";
  if (!result.unreadable.empty()) out += "unreadable:    " + result.unreadable + "\n";
  if (!result.problems.empty()) {
    out += "\nRefused rows (FILE:ROW: column, field: reason):\n";
    for (const RowProblem& p : result.problems) {
      out += Where(name, kind, p.row) + ":";
      if (!p.column.empty()) out += " column \"" + p.column + "\"";
      if (!p.column.empty() && !p.field.empty()) out += ",";
      if (!p.field.empty()) out += " field " + p.field;
      out += (p.column.empty() && p.field.empty() ? " " : ": ") + p.reason + "\n";
    }
    if (result.problems_not_listed > 0) {
      out += "... and " + std::to_string(result.problems_not_listed) + " more problems not listed\n";
    }
  }
  out += "\nTo send it again: correct the refused rows in rejected/" + stored_as +
         " (leave the rows that went through as they are: a changed row under a reference already sent is "
         "refused by the broker), then run\n  refx adapter retry " +
         options.drop.folder() + "/rejected/" + stored_as + "\n";
  return out;
}

Status WriteFileDurably(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("create " + tmp);
  if (Status s = WriteAll(fd, text, tmp); !s.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) return Errno("rename " + tmp);
  return Status::OK();
}

}  // namespace

FileDrop::FileDrop(FileDropOptions options, Spool* spool) : options_(std::move(options)), spool_(spool) {}

FileDrop::~FileDrop() {
  Stop();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status FileDrop::Open(FileDropOptions options, Spool* spool, std::unique_ptr<FileDrop>* drop) {
  if (options.drop.folder().empty()) return Status::InvalidArgument("the drop folder is not set", "folder");
  if (options.drop.stable_seconds() == 0) options.drop.set_stable_seconds(2);
  if (options.drop.done_retention_days() == 0) options.drop.set_done_retention_days(30);
  if (options.chunk_rows == 0) options.chunk_rows = 4096;
  if (options.csv_format) {
    std::unique_ptr<CsvMapping> mapping;
    REFX_RETURN_IF_ERROR(CsvMapping::Create(*options.csv_format, &mapping));
  }
  std::unique_ptr<FileDrop> d(new FileDrop(std::move(options), spool));
  const std::string& folder = d->options_.drop.folder();
  REFX_RETURN_IF_ERROR(MakeDir(folder));
  REFX_RETURN_IF_ERROR(MakeDir(folder + "/done"));
  REFX_RETURN_IF_ERROR(MakeDir(folder + "/rejected"));
  d->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (d->inotify_fd_ < 0) return Errno("inotify_init1");
  if (::inotify_add_watch(d->inotify_fd_, folder.c_str(), IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    return Errno("inotify_add_watch " + folder);
  }
  d->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (d->wake_fd_ < 0) return Errno("eventfd");
  *drop = std::move(d);
  return Status::OK();
}

Clock::time_point FileDrop::Now() const { return options_.now ? options_.now() : Clock::now(); }

void FileDrop::DrainEvents() {
  alignas(struct inotify_event) char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
    if (n <= 0) return;  // EAGAIN: no more events
    for (char* p = buffer; p < buffer + n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        // Lost events: nothing counts as renamed in; the stability check decides.
        renamed_in_.clear();
        continue;
      }
      if (event->len == 0) continue;
      const std::string name = event->name;
      if (event->mask & IN_MOVED_TO) {
        renamed_in_.insert(name);
      } else {
        renamed_in_.erase(name);  // created or written here: maybe still being written
      }
    }
  }
}

Status FileDrop::ScanOnce(std::vector<FileOutcome>* outcomes) {
  DrainEvents();
  const Clock::time_point now = Now();
  const std::string& folder = options_.drop.folder();
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return Errno("opendir " + folder);
  struct Ready {
    int64_t mtime_ns;
    std::string name;
    bool operator<(const Ready& o) const { return mtime_ns != o.mtime_ns ? mtime_ns < o.mtime_ns : name < o.name; }
  };
  std::vector<Ready> ready;
  std::set<std::string> present;
  uint64_t waiting = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (DropKindOf(name) == DropKind::kNone) continue;
    struct stat st;
    if (::stat((folder + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    present.insert(name);
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (renamed_in_.count(name)) {
      ready.push_back({mtime_ns, name});
      continue;
    }
    auto it = sightings_.find(name);
    if (it == sightings_.end() || it->second.size != st.st_size || it->second.mtime_ns != mtime_ns ||
        it->second.inode != st.st_ino) {
      sightings_[name] = Sighting{st.st_size, mtime_ns, st.st_ino, now};
      ++waiting;
      continue;
    }
    if (now - it->second.since >= std::chrono::seconds(options_.drop.stable_seconds())) {
      ready.push_back({mtime_ns, name});
    } else {
      ++waiting;
    }
  }
  ::closedir(dir);
  for (auto it = sightings_.begin(); it != sightings_.end();) {
    it = present.count(it->first) ? std::next(it) : sightings_.erase(it);
  }
  for (auto it = renamed_in_.begin(); it != renamed_in_.end();) {
    it = present.count(*it) ? std::next(it) : renamed_in_.erase(it);
  }
  files_waiting_ = waiting;
  std::sort(ready.begin(), ready.end());
  Status result;
  for (const Ready& r : ready) {
    FileOutcome outcome;
    Status s = Take(r.name, &outcome);
    if (!s.ok()) {
      result = s;
      break;  // the spool or the disk is failing: try again on the next pass
    }
    if (outcomes) outcomes->push_back(std::move(outcome));
  }
  if (now - last_expiry_ >= std::chrono::hours(1)) {
    ExpireDone();
    last_expiry_ = now;
  }
  return result;
}

Status FileDrop::Take(const std::string& name, FileOutcome* outcome) {
  const std::string& folder = options_.drop.folder();
  const Clock::time_point now = Now();
  DropReadOptions read;
  read.agency_id = options_.agency_id;
  read.csv_format = options_.csv_format ? &*options_.csv_format : nullptr;
  read.today = LondonDateOf(Clock::to_time_t(now));
  read.chunk_rows = options_.chunk_rows;
  const std::string source = "file:" + name;
  EncodedChunkSink sink = [this, &source](std::vector<EncodedReferral>* chunk) {
    const size_t n = chunk->size();
    Status s = spool_->AppendEncoded(std::move(*chunk), source);
    if (s.ok()) {
      rows_spooled_ += n;
      if (options_.on_spooled) options_.on_spooled();
    }
    return s;
  };
  const std::string path = folder + "/" + name;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Errno("stat " + path);
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  DropReadResult result;
  Clock::time_point taken = now;
  auto pending = read_not_moved_.find(name);
  if (pending != read_not_moved_.end() && pending->second.size == st.st_size &&
      pending->second.mtime_ns == mtime_ns && pending->second.inode == st.st_ino) {
    // Read and spooled on an earlier pass that could not move it: only the
    // move is left to do (reading it again would spool it again, each pass).
    result = pending->second.result;
    taken = pending->second.taken;
  } else {
    read_not_moved_.erase(name);
    Status read_status = ReadDropFileEncoded(path, read, sink, &result);
    if (!read_status.ok()) {
      ++spool_failures_;
      spdlog::warn("file drop {}: {} stays for the next pass: the spool failed: {}", folder, LogEscape(name),
                   LogEscape(read_status.ToString()));
      return read_status;
    }
  }
  const bool rejected = result.rows_bad > 0 || !result.unreadable.empty();
  const std::string dest_dir = folder + (rejected ? "/rejected" : "/done");
  const std::string stored_as = FreeName(dest_dir, name);
  const std::string dest = dest_dir + "/" + stored_as;
  Status moved = [&]() -> Status {
    if (rejected) {
      REFX_RETURN_IF_ERROR(
          WriteFileDurably(dest_dir, ReportName(stored_as), ReportText(name, stored_as, options_, result, taken)));
    }
    if (::rename(path.c_str(), dest.c_str()) != 0) return Errno("rename " + name + " to " + dest);
    return Status::OK();
  }();
  if (!moved.ok()) {
    read_not_moved_[name] = ReadNotMoved{st.st_size, mtime_ns, st.st_ino, result, taken};
    spdlog::warn("file drop {}: {} was spooled but cannot be moved; trying the move again next pass: {}", folder,
                 LogEscape(name), LogEscape(moved.ToString()));
    return moved;
  }
  read_not_moved_.erase(name);
  if (!rejected) {
    // done/ keeps a file for done_retention_days from now, not from its own mtime.
    const auto since_epoch = now.time_since_epoch();
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ::utimensat(AT_FDCWD, dest.c_str(), times, 0);
  }
  REFX_RETURN_IF_ERROR(SyncDir(dest_dir));
  REFX_RETURN_IF_ERROR(SyncDir(folder));
  sightings_.erase(name);
  renamed_in_.erase(name);
  (rejected ? files_rejected_ : files_done_)++;
  rows_rejected_ += result.rows_bad;
  outcome->name = name;
  outcome->moved_to = (rejected ? "rejected/" : "done/") + stored_as;
  outcome->rejected = rejected;
  outcome->rows_spooled = result.rows_good;
  outcome->rows_rejected = result.rows_bad;
  outcome->unreadable = result.unreadable;
  spdlog::info("file drop {}: {} -> {} ({} rows spooled, {} refused{})", folder, LogEscape(name), LogEscape(outcome->moved_to),
               result.rows_good, result.rows_bad, result.unreadable.empty() ? "" : ", unreadable");
  return Status::OK();
}

void FileDrop::ExpireDone() {
  const std::string done = options_.drop.folder() + "/done";
  const auto cutoff = Now() - std::chrono::hours(24) * options_.drop.done_retention_days();
  const int64_t cutoff_s = std::chrono::duration_cast<std::chrono::seconds>(cutoff.time_since_epoch()).count();
  DIR* dir = ::opendir(done.c_str());
  if (dir == nullptr) return;
  int removed = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    const std::string path = done + "/" + entry->d_name;
    struct stat st;
    if (entry->d_name[0] == '.' || ::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_mtim.tv_sec < cutoff_s && ::unlink(path.c_str()) == 0) ++removed;
  }
  ::closedir(dir);
  if (removed > 0) {
    spdlog::info("file drop {}: removed {} files older than {} days from done/", options_.drop.folder(), removed,
                 options_.drop.done_retention_days());
  }
}

void FileDrop::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) {
      Status s = ScanOnce(nullptr);
      if (!s.ok()) spdlog::warn("file drop {}: {}", options_.drop.folder(), LogEscape(s.ToString()));
      struct pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, static_cast<int>(options_.poll_interval.count()));
      if (n > 0 && (fds[0].revents & POLLIN) && !stop_) {
        // A file is being written or was renamed in: let a burst of events
        // settle rather than rescanning for each write.
        ::poll(&fds[1], 1, 50);
      }
    }
  });
}

void FileDrop::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  uint64_t drained;
  (void)!::read(wake_fd_, &drained, sizeof drained);
}

FileDropFigures FileDrop::Figures() const {
  FileDropFigures f;
  f.files_done = files_done_;
  f.files_rejected = files_rejected_;
  f.rows_spooled = rows_spooled_;
  f.rows_rejected = rows_rejected_;
  f.spool_failures = spool_failures_;
  f.files_waiting = files_waiting_;
  return f;
}

Status RetryRejectedFile(const std::string& file, std::string* moved_to) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(file + ": no such file");
    return Errno("stat " + file);
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(file + ": not a file");
  char resolved[PATH_MAX];
  if (::realpath(file.c_str(), resolved) == nullptr) return Errno("realpath " + file);
  const std::string path = resolved;
  const size_t slash = path.rfind('/');
  const std::string name = path.substr(slash + 1);
  const std::string rejected = path.substr(0, slash);
  const size_t parent_slash = rejected.rfind('/');
  if (parent_slash == std::string::npos || rejected.substr(parent_slash + 1) != "rejected") {
    return Status::InvalidArgument(file + ": not in a drop folder's rejected/ folder");
  }
  if (name.size() > 11 && name.compare(name.size() - 11, 11, ".report.txt") == 0) {
    return Status::InvalidArgument(file + ": this is a report; give the rejected file beside it");
  }
  if (DropKindOf(name) == DropKind::kNone) {
    return Status::InvalidArgument(file + ": not a .json, .jsonl or .csv file, which a drop folder takes");
  }
  const std::string folder = rejected.substr(0, parent_slash);
  const std::string dest = folder + "/" + name;
  if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return Status::InvalidArgument(dest + " already exists: wait until the adapter has taken it, then retry");
    }
    return Errno("rename " + path + " to " + dest);
  }
  if (::unlink((rejected + "/" + ReportName(name)).c_str()) != 0 && errno != ENOENT) {
    return Errno("remove the old report " + ReportName(name));
  }
  REFX_RETURN_IF_ERROR(SyncDir(rejected));
  REFX_RETURN_IF_ERROR(SyncDir(folder));
  *moved_to = dest;
  return Status::OK();
}

}  // namespace refx::adapters
