// What the libFuzzer targets in fuzz/ share: the sample files they start
// from and a scratch folder with the key files the sample configurations
// name. Not part of any program; fuzz/README.md.
//
// Thread-safety: a target's LLVMFuzzerInitialize or first input calls these
// once, on libFuzzer's one thread.
#ifndef REFX_FUZZ_FUZZ_SUPPORT_H_
#define REFX_FUZZ_FUZZ_SUPPORT_H_

#include <string>

#include "core/partnership_config.h"

namespace refx::fuzz {

// The text of `relative` (a path in the source tree, e.g.
// "deploy/config/sevenoaks.textproto"). Aborts when it cannot be read:
// a target without its sample would fuzz nothing useful.
std::string SourceFile(const std::string& relative);

// A scratch folder made once per process (under $TMPDIR, or /dev/shm when
// it exists, so per-input files stay in memory) and removed at exit. It
// holds keys/NAME.pub and keys/NAME.key for every agency of the sample
// partnership configuration and keys/broker.pub: key files the sample
// configurations name resolve against it.
const std::string& ScratchDir();

// The sample partnership configuration (deploy/config/sevenoaks.textproto)
// loaded against ScratchDir()'s keys. Aborts if it does not load.
const PartnershipConfig& SampleConfig();

// Silences protobuf's and spdlog's logging (parse errors of every bad input
// would fill the terminal and slow the run). Call from LLVMFuzzerInitialize.
void Quiet();

// Replaces the contents of `path` with `data` (aborts on failure).
void WriteFile(const std::string& path, const std::string& data);

}  // namespace refx::fuzz

#endif  // REFX_FUZZ_FUZZ_SUPPORT_H_
