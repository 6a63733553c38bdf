#include "cli/keys_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "core/subject_key.h"

namespace refx::cli {

void AddKeysCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::vector<std::string> names;
    std::string dir;
  };
  auto args = std::make_shared<Args>();
  CLI::App* keys = app.add_subcommand("keys", "CURVE key management");
  keys->require_subcommand(1);
  CLI::App* gen = keys->add_subcommand("gen", "Generate key pairs NAME.pub / NAME.key in --dir (existing ones are kept)");
  gen->add_option("names", args->names, "Key pair names (agency ids, or 'broker')")->required();
  gen->add_option("--dir", args->dir, "Folder for the key files")->required();
  gen->callback([args, exit_code] {
    for (const auto& name : args->names) {
      if (std::filesystem::exists(args->dir + "/" + name + ".key")) continue;
      CurveKeyPair pair;
      Status s = GenerateCurveKeyPair(&pair);
      if (s.ok()) s = SaveCurveKeyPair(args->dir, name, pair);
      if (!s.ok()) {
        std::fprintf(stderr, "refx keys gen: %s: %s\n", name.c_str(), s.ToString().c_str());
        *exit_code = 1;
        return;
      }
      std::printf("generated %s/%s.pub and %s.key\n", args->dir.c_str(), name.c_str(), name.c_str());
    }
  });
  auto subject_path = std::make_shared<std::string>();
  CLI::App* subject = keys->add_subcommand(
      "gen-subject-key", "Generate the secret for subject matching (keyed hash of name + date of birth), if absent");
  subject->add_option("file", *subject_path, "Where to write it (e.g. var/keys/subject.hmac)")->required();
  subject->callback([subject_path, exit_code] {
    if (std::filesystem::exists(*subject_path)) return;
    Status s = GenerateSubjectKeyFile(*subject_path);
    if (!s.ok()) {
      std::fprintf(stderr, "refx keys gen-subject-key: %s\n", s.ToString().c_str());
      *exit_code = 1;
      return;
    }
    std::printf("generated %s\n", subject_path->c_str());
  });
  auto master_path = std::make_shared<std::string>();
  CLI::App* master = keys->add_subcommand(
      "gen-master-key",
      "Generate the broker's master key (wraps each referral's data key; broker { master_key_file }), if absent. "
      "Mode 0600: the broker refuses a key its group or others may read. Losing it makes every sealed field unreadable");
  master->add_option("file", *master_path, "Where to write it (e.g. var/keys/broker.master.key)")->required();
  master->callback([master_path, exit_code] {
    if (std::filesystem::exists(*master_path)) return;
    Status s = GenerateSecretKeyFile(*master_path, "master key");
    if (!s.ok()) {
      std::fprintf(stderr, "refx keys gen-master-key: %s\n", s.ToString().c_str());
      *exit_code = 1;
      return;
    }
    std::printf("generated %s\n", master_path->c_str());
  });
}

}  // namespace refx::cli
