// RocksLogger: RocksDB's information log, sent to the process's own log
// (spdlog) instead of the LOG file RocksDB would otherwise keep beside the
// data.
//
// Why: that LOG file lives on the log's own file system. When the file
// system fills, a write to it fails, and RocksDB (7.8, as Debian 12 builds
// it, with assertions on) aborts the process at its next line to that
// file — before the broker has answered "retry" and exited cleanly. With
// this logger, nothing but the write-ahead log and tables is written there.
//
// Only warnings and worse are kept (RocksDB's info lines — options, flushes,
// compactions — would swamp the broker's log); each goes out at the
// matching spdlog level, prefixed "rocksdb:" and escaped (core/log_escape.h).
// RocksDB's lines name files, column families and statuses, never keys or
// values, so no personal data reaches the log through here.
//
// Thread-safety: thread-safe (RocksDB calls it from its background threads).
#pragma once

#include <cstdarg>
#include <memory>

#include <rocksdb/env.h>

namespace refx {

class RocksLogger : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
};

// One logger shared by every database the process opens.
std::shared_ptr<rocksdb::Logger> SharedRocksLogger();

}  // namespace refx
