#include "cli/submit_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

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
  auto rank = [](int code) { return code == kSubmitUnreachable ? 3 : code == kSubmitRefused ? 2 : code; };
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
  } else {
    std::fprintf(stderr, "%s: %s: %s%s%s\n", result.file().c_str(), result.outcome().c_str(),
                 v1::ErrorCode_Name(result.error().code()).c_str(),
                 result.error().field_path().empty() ? ": " : (": " + result.error().field_path() + ": ").c_str(),
                 result.error().message().c_str());
  }
}

int SubmitOne(const SubmitArgs& args, const ConnectionFlags& flags, const std::string& file,
              std::map<std::string, std::unique_ptr<BrokerClient>>* clients) {
  v1::SubmitResult result;
  result.set_file(file);
  auto fail = [&](const char* outcome, const Status& s, int code) {
    result.set_outcome(outcome);
    *result.mutable_error() = ErrorFrame(0, s).error();
    Print(args, result);
    return code;
  };
  std::ifstream in(file);
  if (!in) return fail("refused", Status::InvalidArgument("cannot read file " + file), kSubmitRefused);
  std::stringstream text;
  text << in.rdbuf();
  v1::Referral referral;
  Status s = MessageFromJson(text.str(), &referral);
  if (!s.ok()) return fail("refused", s, kSubmitRefused);
  const std::string agency = args.as_agency.empty() ? referral.referrer().agency_id() : args.as_agency;
  if (agency.empty()) {
    return fail("refused", Status::InvalidArgument("is required (or pass --as AGENCY)", "referral.referrer.agency_id"),
                kSubmitRefused);
  }
  auto& client = (*clients)[agency];
  if (!client) {
    ClientOptions options;
    s = ClientOptionsFor(flags, agency, &options);
    if (!s.ok()) return fail("setup", s, kSubmitSetupError);
    client = std::make_unique<BrokerClient>(options);
  }
  v1::Ack ack;
  s = client->Submit(referral, &ack);
  if (s.ok()) {
    result.set_outcome(ack.duplicate() ? "duplicate" : "accepted");
    *result.mutable_ack() = ack;
    Print(args, result);
    return kSubmitOk;
  }
  if (s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kTimeout) {
    return fail("unreachable", s, kSubmitUnreachable);
  }
  return fail("refused", s, kSubmitRefused);
}

}  // namespace

void AddSubmitCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand("submit", "Submit referrals (protobuf JSON mapping of refx.v1.Referral)");
  cmd->add_option("files", args->files, "Referral JSON files")->required()->check(CLI::ExistingFile);
  cmd->add_option("--as", args->as_agency, "Agency to submit as (default: each file's referrer.agencyId)");
  cmd->add_flag("--json", args->json, "One JSON line per file (refx.v1.SubmitResult)");
  cmd->callback([args, flags, exit_code] {
    std::map<std::string, std::unique_ptr<BrokerClient>> clients;
    int code = kSubmitOk;
    for (const auto& file : args->files) code = Worst(code, SubmitOne(*args, *flags, file, &clients));
    *exit_code = code;
  });
}

}  // namespace refx::cli
