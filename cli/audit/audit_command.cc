#include "cli/audit/audit_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/offline/arguments.h"
#include "cli/offline/handover.h"
#include "eventlog/checkpoint_signing.h"

namespace refx::cli {

namespace {

int RunKeygen(const std::string& name, const std::string& dir) {
  if (std::filesystem::exists(eventlog::SigningSecretKeyPath(dir, name)) ||
      std::filesystem::exists(eventlog::SigningPublicKeyPath(dir, name))) {
    std::printf("kept the existing signing key %s\n", eventlog::SigningSecretKeyPath(dir, name).c_str());
    return kExitOk;
  }
  std::string key_id;
  Status s = eventlog::GenerateSigningKeyPair(dir, name, &key_id);
  if (!s.ok()) {
    std::fprintf(stderr, "refx: gen-signing-key: %s\n", s.ToString().c_str());
    return kExitSetupError;
  }
  std::printf("generated %s and %s (key id %s)\n", eventlog::SigningSecretKeyPath(dir, name).c_str(),
              eventlog::SigningPublicKeyPath(dir, name).c_str(), key_id.c_str());
  return kExitOk;
}

}  // namespace

void AddAuditCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  CLI::App* audit = app.add_subcommand(
      "audit", "For auditors: verify the log (offline or through the broker), read a referral's history, and "
               "find every referral about a person (every read is recorded with its --purpose)");
  audit->require_subcommand(1);

  auto verify_args = std::make_shared<offline::VerifyArgs>();
  verify_args->as = audit::kDefaultAuditor;
  offline::AddVerifyCommand(audit, verify_args.get())->callback([verify_args, flags, exit_code] {
    if (!verify_args->db.empty()) {
      *exit_code = offline::RunOfflineTool("audit verify");
      return;
    }
    OnlineVerifyArgs online;
    online.as = verify_args->as;
    online.purpose = verify_args->purpose;
    online.signing_pubs = verify_args->signing_pubs;
    online.checkpoint_files = verify_args->checkpoint_files;
    online.json = verify_args->json;
    online.full = verify_args->full;
    online.verified_file = verify_args->verified_file;
    *exit_code = RunOnlineVerify(*flags, online);
  });

  AddAuditTimelineCommand(audit, flags, exit_code);
  AddAuditReplayCommand(audit, flags, exit_code);
  AddAuditAsOfCommand(audit, flags, exit_code);
  AddAuditExportCommand(audit, flags, exit_code);
  AddAuditSubjectCommand(audit, flags, exit_code);

  auto checkpoint_args = std::make_shared<offline::CheckpointArgs>();
  offline::AddCheckpointCommand(audit, checkpoint_args.get())->callback([checkpoint_args, exit_code] {
    *exit_code = offline::RunOfflineTool("audit checkpoint");
  });

  // The signing key generator: on `refx keys` when it is there.
  CLI::App* keys = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "keys"; })) keys = sub;
  auto keygen_name = std::make_shared<std::string>();
  auto keygen_dir = std::make_shared<std::string>();
  CLI::App* keygen =
      keys != nullptr
          ? keys->add_subcommand("gen-signing-key",
                                 "Generate the checkpoint signing key pair NAME.sign.key / NAME.sign.pub in --dir "
                                 "(existing ones are kept)")
          : audit->add_subcommand("keygen", "Generate the checkpoint signing key pair NAME.sign.key / NAME.sign.pub");
  keygen->add_option("name", *keygen_name, "Key pair name (e.g. broker)")->required();
  keygen->add_option("--dir", *keygen_dir, "Folder for the key files")->required();
  keygen->callback([keygen_name, keygen_dir, exit_code] { *exit_code = RunKeygen(*keygen_name, *keygen_dir); });
}

}  // namespace refx::cli
