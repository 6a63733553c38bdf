#include "cli/keys_command.h"

#include <cstdio>
#include <ctime>
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
  // Rotation (docs/SECURITY.md): a new pair under a dated name, so the old
  // pair's files stay as they are for the overlap.
  struct RotateArgs {
    std::string name, dir;
    unsigned overlap_days = 14;
  };
  auto rotate_args = std::make_shared<RotateArgs>();
  CLI::App* rotate = keys->add_subcommand(
      "rotate", "Make an agency's next key pair NAME.YYYYMMDD.pub / .key in --dir and print the configuration lines "
                "for an overlap with its current key (docs/SECURITY.md)");
  rotate->add_option("name", rotate_args->name, "The agency id (its current pair is NAME.pub / NAME.key)")->required();
  rotate->add_option("--dir", rotate_args->dir, "Folder holding the key files")->required();
  rotate->add_option("--overlap-days", rotate_args->overlap_days, "Days both keys stay valid")
      ->capture_default_str()
      ->check(CLI::Range(1u, 365u));
  rotate->callback([rotate_args, exit_code] {
    const RotateArgs& a = *rotate_args;
    std::string current;
    Status s = ReadCurveKeyFile(a.dir + "/" + a.name + ".pub", &current);
    const std::time_t now = std::time(nullptr);
    char stamp[16], until[32];
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(stamp, sizeof stamp, "%Y%m%d", &utc);
    const std::time_t end = now + static_cast<std::time_t>(a.overlap_days) * 86400;
    gmtime_r(&end, &utc);
    std::strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &utc);
    const std::string next_name = a.name + "." + stamp;
    CurveKeyPair pair;
    if (s.ok()) s = GenerateCurveKeyPair(&pair);
    if (s.ok()) s = SaveCurveKeyPair(a.dir, next_name, pair);
    if (!s.ok()) {
      std::fprintf(stderr, "refx keys rotate: %s: %s\n", a.name.c_str(), s.ToString().c_str());
      *exit_code = 1;
      return;
    }
    std::printf(
        "generated %s/%s.pub and %s.key (key %s); the current key %s.pub is %s\n"
        "give %s.key to the agency, then in its agencies { } entry put (paths relative to the configuration's "
        "folder, or absolute):\n"
        "  public_key_file: \"%s/%s.pub\"\n"
        "  previous_public_key_file: \"%s/%s.pub\"\n"
        "  previous_key_valid_until: \"%s\"\n"
        "and run `refx admin reload`; both keys are accepted until then, only the new one after\n",
        a.dir.c_str(), next_name.c_str(), next_name.c_str(), CurveKeyFingerprint(pair.public_key).c_str(),
        a.name.c_str(), CurveKeyFingerprint(current).c_str(), next_name.c_str(), a.dir.c_str(), next_name.c_str(),
        a.dir.c_str(), a.name.c_str(), until);
  });
  auto fingerprint_files = std::make_shared<std::vector<std::string>>();
  CLI::App* fingerprint = keys->add_subcommand(
      "fingerprint", "Print the fingerprint of each public key file (what revoked_keys lists and the logs name)");
  fingerprint->add_option("files", *fingerprint_files, "Public key files (NAME.pub)")->required();
  fingerprint->callback([fingerprint_files, exit_code] {
    for (const std::string& file : *fingerprint_files) {
      std::string key;
      Status s = ReadCurveKeyFile(file, &key);
      if (!s.ok()) {
        std::fprintf(stderr, "refx keys fingerprint: %s\n", s.ToString().c_str());
        *exit_code = 1;
        continue;
      }
      std::printf("%s  %s\n", CurveKeyFingerprint(key).c_str(), file.c_str());
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
