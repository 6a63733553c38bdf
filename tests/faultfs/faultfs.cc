// faultfs: a FUSE file system that forgets, on command, everything that was
// not made durable — simulated power loss for the fault trials.
//
// It keeps two images of every file and folder, in memory:
//   - the current one, which processes read and write, and
//   - the durable one: a file's bytes as they were at its last fsync or
//     fdatasync, a folder's entries (names -> files) as they were at its
//     last fsync.
// Writing "cut" to the control file `/.faultfs` at the mount's root throws
// the current image away and puts the durable one in its place, as a power
// loss would (the model of RocksDB's FaultInjectionTestFS and of LazyFS: a
// file created, renamed or unlinked is only durably so once its folder is
// synced; its bytes once the file is). Reading `/.faultfs` gives counters.
// Other commands: "sync" makes everything durable (as `sync` would); "capacity N"
// refuses writes (ENOSPC) once the files hold more than N bytes, "capacity off"
// lifts it (a full disk, then freed).
//
// Kill every process using the mount before "cut": a process that lives on
// keeps handles to files that may no longer exist. Attributes, entries and
// page cache are not cached by the kernel across opens (timeouts 0), so a
// process started after the cut sees exactly the durable image.
//
// Not modelled: torn or reordered writes inside the unsynced part (the
// unsynced part is lost whole), symlinks, extended attributes; permissions
// are not checked (the trials run as one user). Memory-backed: meant for
// test logs of some megabytes, not for soaks.
//
// Usage: refx-faultfs MOUNTPOINT [-f] [-o auto_unmount] (libfuse options).
// Thread-safety: every operation holds one mutex.
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr char kControl[] = "/.faultfs";
constexpr size_t kClean = std::numeric_limits<size_t>::max();

struct Node {
  bool is_dir = false;
  mode_t mode = 0;
  uint64_t ino = 0;
  uint32_t nlink = 0;     // links in the current image
  std::string data;       // current bytes
  std::string durable;    // bytes at the last fsync
  size_t dirty_from = kClean;  // bytes before this offset equal `durable`'s
  std::map<std::string, std::shared_ptr<Node>> entries;          // current
  std::map<std::string, std::shared_ptr<Node>> durable_entries;  // at the last fsync of the folder
  struct timespec mtime {};
};

struct Handle {
  std::shared_ptr<Node> node;  // keeps an unlinked open file alive
  bool control = false;
};

std::mutex mu;
std::shared_ptr<Node> root;
uint64_t next_ino = 2;
uint64_t cuts = 0, file_syncs = 0, dir_syncs = 0;
size_t capacity = kClean;  // bytes; kClean = no limit

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

std::shared_ptr<Node> NewNode(bool dir, mode_t mode) {
  auto n = std::make_shared<Node>();
  n->is_dir = dir;
  n->mode = (dir ? S_IFDIR : S_IFREG) | (mode & 07777);
  n->ino = next_ino++;
  n->mtime = Now();
  return n;
}

std::vector<std::string> Split(const char* path) {
  std::vector<std::string> parts;
  std::string cur;
  for (const char* p = path; *p; ++p) {
    if (*p == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// The node at `path` in the current image, or null.
std::shared_ptr<Node> Resolve(const char* path) {
  std::shared_ptr<Node> n = root;
  for (const auto& part : Split(path)) {
    if (!n->is_dir) return nullptr;
    auto it = n->entries.find(part);
    if (it == n->entries.end()) return nullptr;
    n = it->second;
  }
  return n;
}

// The folder holding `path` and the last name of `path`; null folder when missing.
std::shared_ptr<Node> Parent(const char* path, std::string* name) {
  auto parts = Split(path);
  if (parts.empty()) return nullptr;
  *name = parts.back();
  std::shared_ptr<Node> n = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!n->is_dir) return nullptr;
    auto it = n->entries.find(parts[i]);
    if (it == n->entries.end()) return nullptr;
    n = it->second;
  }
  return n->is_dir ? n : nullptr;
}

Node* NodeOf(const char* path, struct fuse_file_info* fi) {
  if (fi != nullptr && fi->fh != 0) return reinterpret_cast<Handle*>(fi->fh)->node.get();
  if (path == nullptr) return nullptr;
  return Resolve(path).get();
}

void MarkDirty(Node* n, size_t from) {
  if (from < n->dirty_from) n->dirty_from = from;
}

size_t UsedBytes(const Node& n, std::set<const Node*>* seen) {
  if (!seen->insert(&n).second) return 0;
  size_t total = n.data.size();
  for (const auto& [name, child] : n.entries) total += UsedBytes(*child, seen);
  return total;
}

void SyncFile(Node* n) {
  if (n->dirty_from == kClean) return;
  const size_t keep = std::min(n->dirty_from, n->durable.size());
  n->durable.resize(keep);
  if (n->data.size() > keep) n->durable.append(n->data, keep, std::string::npos);
  n->durable.resize(n->data.size());
  n->dirty_from = kClean;
}

void SyncAll(Node* n, std::set<Node*>* seen) {
  if (!seen->insert(n).second) return;
  SyncFile(n);
  n->durable_entries = n->entries;
  for (auto& [name, child] : n->entries) SyncAll(child.get(), seen);
}

// Puts the durable image in place of the current one below `n`; collects
// every node still reachable into `seen`.
void Revert(Node* n, std::set<Node*>* seen) {
  if (!seen->insert(n).second) return;
  n->data = n->durable;
  n->dirty_from = kClean;
  n->entries = n->durable_entries;
  for (auto& [name, child] : n->entries) Revert(child.get(), seen);
}

void Cut() {
  std::set<Node*> seen;
  Revert(root.get(), &seen);
  for (Node* n : seen) n->nlink = 0;
  root->nlink = 1;
  for (Node* n : seen) {
    for (auto& [name, child] : n->entries) ++child->nlink;
  }
  ++cuts;
}

std::string Stats() {
  size_t unsynced_files = 0, unsynced_bytes = 0, unsynced_dirs = 0;
  std::set<const Node*> seen;
  std::vector<const Node*> todo{root.get()};
  while (!todo.empty()) {
    const Node* n = todo.back();
    todo.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->dirty_from != kClean) {
      ++unsynced_files;
      unsynced_bytes += n->data.size() - std::min(n->dirty_from, n->data.size());
    }
    if (n->is_dir && n->entries != n->durable_entries) ++unsynced_dirs;
    for (const auto& [name, child] : n->entries) todo.push_back(child.get());
  }
  std::set<const Node*> seen2;
  std::ostringstream out;
  out << "cuts " << cuts << "\nfile_syncs " << file_syncs << "\ndir_syncs " << dir_syncs << "\nunsynced_files "
      << unsynced_files << "\nunsynced_bytes " << unsynced_bytes << "\nunsynced_dirs " << unsynced_dirs
      << "\nused_bytes " << UsedBytes(*root, &seen2) << "\n";
  return out.str();
}

void FillStat(const Node& n, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = n.ino;
  st->st_mode = n.mode;
  st->st_nlink = n.is_dir ? 2 : std::max<uint32_t>(n.nlink, 1);
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_size = n.is_dir ? 4096 : static_cast<off_t>(n.data.size());
  st->st_blksize = 4096;
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_mtim = st->st_ctim = st->st_atim = n.mtime;
}

void* Init(struct fuse_conn_info*, struct fuse_config* cfg) {
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;  // unlink of an open file: no .fuse_hidden files
  cfg->nullpath_ok = 1;
  cfg->use_ino = 1;
  cfg->kernel_cache = 0;
  return nullptr;
}

int GetAttr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (path != nullptr && std::strcmp(path, kControl) == 0) {
    std::memset(st, 0, sizeof(*st));
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_ino = 1;
    return 0;
  }
  Node* n = NodeOf(path, fi);
  if (n == nullptr) return -ENOENT;
  FillStat(*n, st);
  return 0;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, struct fuse_file_info* fi,
            enum fuse_readdir_flags) {
  std::lock_guard<std::mutex> lock(mu);
  Node* n = NodeOf(path, fi);
  if (n == nullptr) return -ENOENT;
  if (!n->is_dir) return -ENOTDIR;
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const auto& [name, child] : n->entries) filler(buf, name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int OpenDir(const char* path, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  auto n = Resolve(path);
  if (!n) return -ENOENT;
  if (!n->is_dir) return -ENOTDIR;
  fi->fh = reinterpret_cast<uint64_t>(new Handle{n, false});
  return 0;
}

int ReleaseDir(const char*, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  delete reinterpret_cast<Handle*>(fi->fh);
  return 0;
}

int FsyncDir(const char*, int, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  Node* n = reinterpret_cast<Handle*>(fi->fh)->node.get();
  n->durable_entries = n->entries;
  ++dir_syncs;
  return 0;
}

int MkDir(const char* path, mode_t mode) {
  std::lock_guard<std::mutex> lock(mu);
  std::string name;
  auto parent = Parent(path, &name);
  if (!parent) return -ENOENT;
  if (parent->entries.count(name)) return -EEXIST;
  auto n = NewNode(true, mode);
  n->nlink = 1;
  parent->entries[name] = n;
  parent->mtime = Now();
  return 0;
}

// rmdir (dir) or unlink (!dir) of `path` in the current image.
int Remove(const char* path, bool dir) {
  std::lock_guard<std::mutex> lock(mu);
  std::string name;
  auto parent = Parent(path, &name);
  if (!parent) return -ENOENT;
  auto it = parent->entries.find(name);
  if (it == parent->entries.end()) return -ENOENT;
  if (dir && !it->second->is_dir) return -ENOTDIR;
  if (!dir && it->second->is_dir) return -EISDIR;
  if (dir && !it->second->entries.empty()) return -ENOTEMPTY;
  if (it->second->nlink > 0) --it->second->nlink;
  parent->entries.erase(it);
  parent->mtime = Now();
  return 0;
}

int RmDir(const char* path) { return Remove(path, true); }

int Create(const char* path, mode_t mode, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (std::strcmp(path, kControl) == 0) return -EEXIST;
  std::string name;
  auto parent = Parent(path, &name);
  if (!parent) return -ENOENT;
  auto it = parent->entries.find(name);
  std::shared_ptr<Node> n;
  if (it != parent->entries.end()) {
    if (fi->flags & O_EXCL) return -EEXIST;
    n = it->second;
    if (n->is_dir) return -EISDIR;
  } else {
    n = NewNode(false, mode);
    n->nlink = 1;
    parent->entries[name] = n;
    parent->mtime = Now();
  }
  if (fi->flags & O_TRUNC) {
    n->data.clear();
    MarkDirty(n.get(), 0);
  }
  fi->fh = reinterpret_cast<uint64_t>(new Handle{n, false});
  return 0;
}

int Open(const char* path, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (std::strcmp(path, kControl) == 0) {
    fi->fh = reinterpret_cast<uint64_t>(new Handle{nullptr, true});
    fi->direct_io = 1;
    return 0;
  }
  auto n = Resolve(path);
  if (!n) return -ENOENT;
  if (n->is_dir) return -EISDIR;
  if (fi->flags & O_TRUNC) {
    n->data.clear();
    MarkDirty(n.get(), 0);
  }
  fi->fh = reinterpret_cast<uint64_t>(new Handle{n, false});
  return 0;
}

int Release(const char*, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  delete reinterpret_cast<Handle*>(fi->fh);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  Handle* h = reinterpret_cast<Handle*>(fi->fh);
  const std::string stats = h->control ? Stats() : std::string();
  const std::string& data = h->control ? stats : h->node->data;
  if (off < 0 || static_cast<size_t>(off) >= data.size()) return 0;
  const size_t n = std::min(size, data.size() - static_cast<size_t>(off));
  std::memcpy(buf, data.data() + off, n);
  return static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  Handle* h = reinterpret_cast<Handle*>(fi->fh);
  if (h->control) {
    std::string cmd(buf, size);
    while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == ' ')) cmd.pop_back();
    if (cmd == "cut") {
      Cut();
    } else if (cmd == "sync") {
      std::set<Node*> seen;
      SyncAll(root.get(), &seen);
    } else if (cmd == "capacity off") {
      capacity = kClean;
    } else if (cmd.rfind("capacity ", 0) == 0) {
      try {
        capacity = std::stoull(cmd.substr(9));
      } catch (...) {
        return -EINVAL;
      }
    } else {
      return -EINVAL;
    }
    return static_cast<int>(size);
  }
  Node* n = h->node.get();
  if (fi->flags & O_APPEND) off = static_cast<off_t>(n->data.size());
  const size_t end = static_cast<size_t>(off) + size;
  if (capacity != kClean && end > n->data.size()) {
    std::set<const Node*> seen;
    if (UsedBytes(*root, &seen) + (end - n->data.size()) > capacity) return -ENOSPC;
  }
  if (end > n->data.size()) n->data.resize(end);
  std::memcpy(&n->data[off], buf, size);
  MarkDirty(n, static_cast<size_t>(off));
  n->mtime = Now();
  return static_cast<int>(size);
}

int Truncate(const char* path, off_t size, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (path != nullptr && std::strcmp(path, kControl) == 0) return 0;
  Node* n = NodeOf(path, fi);
  if (n == nullptr) return -ENOENT;
  if (n->is_dir) return -EISDIR;
  MarkDirty(n, std::min(static_cast<size_t>(size), n->data.size()));
  n->data.resize(static_cast<size_t>(size));
  n->mtime = Now();
  return 0;
}

int Fsync(const char*, int, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  Handle* h = reinterpret_cast<Handle*>(fi->fh);
  if (h->control) return 0;
  SyncFile(h->node.get());
  ++file_syncs;
  return 0;
}

int Fallocate(const char*, int mode, off_t off, off_t len, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  Handle* h = reinterpret_cast<Handle*>(fi->fh);
  if (h->control) return -EOPNOTSUPP;
  if (mode == FALLOC_FL_KEEP_SIZE) return 0;  // preallocation only: nothing to keep
  if (mode != 0) return -EOPNOTSUPP;
  Node* n = h->node.get();
  const size_t end = static_cast<size_t>(off + len);
  if (end > n->data.size()) {
    MarkDirty(n, n->data.size());
    n->data.resize(end);
  }
  return 0;
}

int Unlink(const char* path) { return Remove(path, false); }

int Rename(const char* from, const char* to, unsigned int flags) {
  std::lock_guard<std::mutex> lock(mu);
  if (flags & ~RENAME_NOREPLACE) return -EINVAL;
  std::string from_name, to_name;
  auto from_dir = Parent(from, &from_name);
  auto to_dir = Parent(to, &to_name);
  if (!from_dir || !to_dir) return -ENOENT;
  auto it = from_dir->entries.find(from_name);
  if (it == from_dir->entries.end()) return -ENOENT;
  std::shared_ptr<Node> moving = it->second;
  auto target = to_dir->entries.find(to_name);
  if (target != to_dir->entries.end()) {
    if (target->second == moving) return 0;
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    if (target->second->is_dir) {
      if (!moving->is_dir) return -EISDIR;
      if (!target->second->entries.empty()) return -ENOTEMPTY;
    } else if (moving->is_dir) {
      return -ENOTDIR;
    }
    if (target->second->nlink > 0) --target->second->nlink;
  }
  from_dir->entries.erase(it);
  to_dir->entries[to_name] = moving;
  from_dir->mtime = to_dir->mtime = Now();
  return 0;
}

int Link(const char* from, const char* to) {
  std::lock_guard<std::mutex> lock(mu);
  auto n = Resolve(from);
  if (!n) return -ENOENT;
  if (n->is_dir) return -EPERM;
  std::string name;
  auto parent = Parent(to, &name);
  if (!parent) return -ENOENT;
  if (parent->entries.count(name)) return -EEXIST;
  parent->entries[name] = n;
  ++n->nlink;
  return 0;
}

int Chmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (path != nullptr && std::strcmp(path, kControl) == 0) return 0;
  Node* n = NodeOf(path, fi);
  if (n == nullptr) return -ENOENT;
  n->mode = (n->mode & S_IFMT) | (mode & 07777);
  return 0;
}

int Chown(const char*, uid_t, gid_t, struct fuse_file_info*) { return 0; }

int Utimens(const char* path, const struct timespec tv[2], struct fuse_file_info* fi) {
  std::lock_guard<std::mutex> lock(mu);
  if (path != nullptr && std::strcmp(path, kControl) == 0) return 0;
  Node* n = NodeOf(path, fi);
  if (n == nullptr) return -ENOENT;
  n->mtime = (tv == nullptr || tv[1].tv_nsec == UTIME_NOW) ? Now() : tv[1];
  return 0;
}

int StatFs(const char*, struct statvfs* st) {
  std::lock_guard<std::mutex> lock(mu);
  std::memset(st, 0, sizeof(*st));
  std::set<const Node*> seen;
  const size_t used = UsedBytes(*root, &seen);
  const size_t total = capacity == kClean ? (size_t{64} << 30) : std::max(capacity, used);
  st->f_bsize = st->f_frsize = 4096;
  st->f_blocks = total / 4096;
  st->f_bfree = st->f_bavail = (total - used) / 4096;
  st->f_files = 1u << 20;
  st->f_ffree = 1u << 20;
  st->f_namemax = 255;
  return 0;
}

int Access(const char*, int) { return 0; }

}  // namespace

int main(int argc, char* argv[]) {
  root = NewNode(true, 0755);
  root->ino = 1 << 20;  // apart from the control file's ino 1
  root->nlink = 1;
  struct fuse_operations ops {};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.opendir = OpenDir;
  ops.releasedir = ReleaseDir;
  ops.fsyncdir = FsyncDir;
  ops.mkdir = MkDir;
  ops.rmdir = RmDir;
  ops.create = Create;
  ops.open = Open;
  ops.release = Release;
  ops.read = Read;
  ops.write = Write;
  ops.truncate = Truncate;
  ops.fsync = Fsync;
  ops.fallocate = Fallocate;
  ops.unlink = Unlink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = Chmod;
  ops.chown = Chown;
  ops.utimens = Utimens;
  ops.statfs = StatFs;
  ops.access = Access;
  return fuse_main(argc, argv, &ops, nullptr);
}
