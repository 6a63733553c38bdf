#include "eventlog/rocks_logger.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/log_escape.h"

namespace refx {

void RocksLogger::Logv(const char* format, va_list ap) {
  // Lines without a level are RocksDB's informational ones.
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void RocksLogger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
  char line[1024];
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(line, sizeof line, format, copy);
  va_end(copy);
  if (n < 0) return;
  std::string_view text(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const std::string escaped = LogEscape(text, sizeof line);
  switch (level) {
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      spdlog::warn("rocksdb: {}", escaped);
      break;
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
      spdlog::error("rocksdb: {}", escaped);
      break;
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
      spdlog::critical("rocksdb: {}", escaped);
      break;
    default:
      spdlog::info("rocksdb: {}", escaped);
      break;
  }
}

std::shared_ptr<rocksdb::Logger> SharedRocksLogger() {
  static const std::shared_ptr<rocksdb::Logger> logger = std::make_shared<RocksLogger>();
  return logger;
}

}  // namespace refx
