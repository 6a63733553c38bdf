#include "cli/submit_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "cli/connect.h"
#include "core/frame_codec.h"
#include "core/json.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

struct SubmitArgs {
  std::vector<std::string> files;
  std::string as_agency;
  bool json = false;
};

int Worst(int a, int b) {
  // Unreachable outranks refused, which outranks setup errors.
  auto rank = [](int code) { return code == kExitUnreachable ? 3 : code == kExitRefused ? 2 : code; };
  return rank(a) >= rank(b) ? a : b;
}

void Print(const SubmitArgs& args, const v1::SubmitResult& result) {
  if (args.json) {
    std::printf("%s\n", ToJsonLine(result).c_str());
    return;
  }
  if (result.has_ack()) {
    std::printf("%s seq %llu %s (%s)\n", result.ack().referral_id().c_str(),
                static_cast<unsigned long long>(result.ack().seq()),
                result.ack().duplicate() ? "duplicate: already accepted, nothing written" : "accepted, durable",
                result.file().c_str());
  } else if (result.error().violations_size() > 1) {
    // Every bad field, one a line.
    std::fprintf(stderr, "%s: %s: %s: %d fields are invalid:\n", result.file().c_str(), result.outcome().c_str(),
                 v1::ErrorCode_Name(result.error().code()).c_str(), result.error().violations_size());
    for (const v1::FieldViolation& v : result.error().violations()) {
      std::fprintf(stderr, "  %s: %s\n", v.field_path().c_str(), v.message().c_str());
    }
  } else {
    std::fprintf(stderr, "%s: %s: %s%s%s\n", result.file().c_str(), result.outcome().c_str(),
                 v1::ErrorCode_Name(result.error().code()).c_str(),
                 result.error().field_path().empty() ? ": " : (": " + result.error().field_path() + ": ").c_str(),
                 result.error().message().c_str());
  }
}

// One file of the command line and what became of it.
struct FileResult {
  v1::SubmitResult result;
  int code = kExitOk;
  bool done = false;
};

void MarkFailed(FileResult* f, const char* outcome, const Status& s, int code) {
  f->result.set_outcome(outcome);
  *f->result.mutable_error() = ErrorFrame(0, s).error();
  f->result.clear_ack();
  f->code = code;
  f->done = true;
}

// Reads and parses one file; false (with *f failed) if it is not a referral.
bool ReadReferral(const std::string& file, v1::Referral* referral, FileResult* f) {
  std::ifstream in(file);
  if (!in) {
    MarkFailed(f, "refused", Status::InvalidArgument("cannot read file " + file), kExitRefused);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  Status s = MessageFromJson(text.str(), referral);
  if (!s.ok()) {
    MarkFailed(f, "refused", s, kExitRefused);
    return false;
  }
  return true;
}

// Sends the referrals of one agency: a single one as a SubmitRequest, more
// in SubmitBatchRequest frames (one group commit for up to 64 of them).
void SubmitAs(const ConnectionFlags& flags, const std::string& agency, const std::vector<v1::Referral>& referrals,
              const std::vector<size_t>& files, std::vector<FileResult>* results) {
  std::unique_ptr<BrokerClient> connected;
  Status s = ConnectAs(flags, agency, &connected);
  if (!s.ok()) {
    const int code = ExitCodeForConnect(s);
    for (size_t f : files) MarkFailed(&(*results)[f], code == kExitUnreachable ? "unreachable" : "setup", s, code);
    return;
  }
  BrokerClient& client = *connected;
  auto record = [&](size_t i, const Status& st, const v1::Ack& ack) {
    FileResult& f = (*results)[files[i]];
    if (st.ok()) {
      f.result.set_outcome(ack.duplicate() ? "duplicate" : "accepted");
      *f.result.mutable_ack() = ack;
      f.done = true;
    } else if (st.code() == Status::Code::kUnavailable || st.code() == Status::Code::kTimeout) {
      MarkFailed(&f, "unreachable", st, kExitUnreachable);
    } else {
      // The file is named already: a batch position means nothing to the
      // reader, so name the fields as a single submission would.
      MarkFailed(&f, "refused", st.WithFieldPaths([](const std::string& path) {
        static const std::string kBatch = "submit_batch.referrals[";
        if (path.compare(0, kBatch.size(), kBatch) != 0 || path.find(']') == std::string::npos) return path;
        return "submit.referral" + path.substr(path.find(']') + 1);
      }), kExitRefused);
    }
  };
  if (referrals.size() == 1) {
    v1::Ack ack;
    record(0, client.Submit(referrals[0], &ack), ack);
    return;
  }
  s = client.SubmitBatches(referrals, /*per_frame=*/64, /*window=*/4, record);
  // Referrals without a result were not acknowledged. The client counts
  // frames ("N requests not answered"); people count referrals.
  size_t unanswered = 0;
  for (size_t f : files) unanswered += (*results)[f].done ? 0 : 1;
  if (unanswered == 0) return;
  std::string why = s.ok() ? "no reply" : s.message();
  static const std::regex kFrames(";? ?[0-9]+ requests not answered");
  why = std::regex_replace(why, kFrames, "");
  const Status failed(s.ok() ? Status::Code::kUnavailable : s.code(),
                      std::to_string(unanswered) + " of " + std::to_string(referrals.size()) + " referrals of " +
                          agency + " not answered (" + why +
                          "); they may or may not be written: submit them again (a repeat is safe)");
  for (size_t f : files) {
    if (!(*results)[f].done) MarkFailed(&(*results)[f], "unreachable", failed, kExitUnreachable);
  }
}

}  // namespace

void AddSubmitCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "submit",
      "Submit referrals (protobuf JSON mapping of refx.v1.Referral; strict JSON, errors name LINE:COLUMN). A refused "
      "referral lists every invalid field at once");
  cmd->add_option("files", args->files, "Referral JSON files (an agency's referrals are sent in batch frames)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--as", args->as_agency, "Agency to submit as (default: each file's referrer.agencyId)");
  cmd->add_flag("--json", args->json, "One JSON line per file (refx.v1.SubmitResult)");
  cmd->callback([args, flags, exit_code] {
    // Read every file first, then send each agency's referrals together;
    // results are printed in the order the files were given.
    std::vector<FileResult> results(args->files.size());
    std::map<std::string, std::pair<std::vector<v1::Referral>, std::vector<size_t>>> by_agency;
    for (size_t i = 0; i < args->files.size(); ++i) {
      results[i].result.set_file(args->files[i]);
      v1::Referral referral;
      if (!ReadReferral(args->files[i], &referral, &results[i])) continue;
      const std::string agency = args->as_agency.empty() ? referral.referrer().agency_id() : args->as_agency;
      if (agency.empty()) {
        MarkFailed(&results[i], "refused",
             Status::InvalidArgument("is required (or pass --as AGENCY)", "referral.referrer.agency_id"),
             kExitRefused);
        continue;
      }
      auto& [referrals, files] = by_agency[agency];
      referrals.push_back(std::move(referral));
      files.push_back(i);
    }
    for (const auto& [agency, group] : by_agency) SubmitAs(*flags, agency, group.first, group.second, &results);
    int code = kExitOk;
    for (const FileResult& f : results) {
      Print(*args, f.result);
      code = Worst(code, f.code);
    }
    *exit_code = code;
  });
}

}  // namespace refx::cli
