#include "cli/offline/arguments.h"

namespace refx::cli::offline {

CLI::App* AddVerifyCommand(CLI::App* audit, VerifyArgs* args) {
  CLI::App* verify = audit->add_subcommand(
      "verify", "Verify the log: with --db a log folder or restored backup (chain, seqs, head, indexes, signed "
                "checkpoints); without --db the running broker's log, streamed as an auditor (chain, seqs, "
                "signed checkpoints; --purpose required). Exit 0 intact, 4 tampered, 1 setup error, 2 refused, "
                "3 broker unreachable");
  verify->add_option("--db", args->db, "The event log folder (opened read-only); omit to verify online");
  verify->add_option("--purpose", args->purpose,
                     "Online: why you read the log (recorded by the broker as a record_accessed event)");
  verify->add_option("--as", args->as,
                     "Online: identity to read as: an agency id or a destination code (role AUDITOR)")
      ->capture_default_str();
  verify->add_option("--signing-pub", args->signing_pubs,
                     "Checkpoint signing public key file NAME.sign.pub (repeatable)");
  verify->add_option("--checkpoint", args->checkpoint_files,
                     "File of refx.v1.Checkpoint JSON lines kept off the broker's host (repeatable)");
  verify->add_option("--threads", args->threads, "Offline: worker threads (default: one per core)");
  verify->add_flag("--json", args->json, "One refx.v1.VerifyResult JSON line");
  verify->add_flag("--full", args->full,
                   "Online: verify from seq 1, not from the newest signed checkpoint verified before");
  verify->add_option("--verified-file", args->verified_file,
                     "Online: where the newest signed checkpoint verified is kept (default "
                     "~/.local/state/refx/verified/ENDPOINT.json)");
  return verify;
}

CLI::App* AddCheckpointCommand(CLI::App* audit, CheckpointArgs* args) {
  CLI::App* checkpoint = audit->add_subcommand(
      "checkpoint", "Print the latest stored signed checkpoint as JSON, to keep off the broker's host");
  checkpoint->add_option("--db", args->db, "The event log folder (opened read-only)")->required();
  checkpoint->add_flag("--all", args->all, "Every stored checkpoint, one JSON line each");
  return checkpoint;
}

CLI::App* AddRestoreCommand(CLI::App* admin, RestoreArgs* args) {
  CLI::App* cmd = admin->add_subcommand(
      "restore",
      "Restore the latest backup in BACKUP_DIR into DATA_DIR (must be new or empty; checksums checked while "
      "copying), here on this host. Then run `refx audit verify --db DATA_DIR`. Exit 0 done, 1 failed");
  cmd->add_option("backup_dir", args->backup_dir, "Backup folder (made by `refx admin backup`)")->required();
  cmd->add_option("--to", args->data_dir, "New event log folder to restore into")->required();
  return cmd;
}

}  // namespace refx::cli::offline
