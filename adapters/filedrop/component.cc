#include "adapters/filedrop/component.h"

#include "core/metrics_http.h"

namespace refx::adapters {

Status FileDropComponent::Create(Adapter* adapter, std::unique_ptr<FileDropComponent>* out) {
  auto component = std::make_unique<FileDropComponent>();
  const v1::AdapterConfig& config = adapter->config().proto();
  for (const v1::FileDrop& drop : config.drops()) {
    FileDropOptions options;
    options.agency_id = config.agency_id();
    options.drop = drop;
    for (const v1::CsvFormat& format : config.csv_formats()) {
      if (format.name() == drop.csv_format()) options.csv_format = format;
    }
    options.on_spooled = [adapter] { adapter->Spooled(); };
    std::unique_ptr<FileDrop> watcher;
    Status s = FileDrop::Open(std::move(options), adapter->spool(), &watcher);
    if (!s.ok()) return Status(s.code(), "drop folder " + drop.folder() + ": " + s.message(), s.field_path());
    component->drops_.push_back(std::move(watcher));
  }
  *out = std::move(component);
  return Status::OK();
}

Status FileDropComponent::Start() {
  for (auto& drop : drops_) drop->Start();
  return Status::OK();
}

void FileDropComponent::Stop() {
  for (auto& drop : drops_) drop->Stop();
}

void FileDropComponent::AppendMetrics(std::string* out) const {
  FileDropFigures sum;
  for (const auto& drop : drops_) {
    const FileDropFigures f = drop->Figures();
    sum.files_done += f.files_done;
    sum.files_rejected += f.files_rejected;
    sum.rows_spooled += f.rows_spooled;
    sum.rows_rejected += f.rows_rejected;
    sum.spool_failures += f.spool_failures;
    sum.files_waiting += f.files_waiting;
  }
  AppendCounter(out, "refx_adapter_drop_files_done_total", "Dropped files taken whole (moved to done/).",
                sum.files_done);
  AppendCounter(out, "refx_adapter_drop_files_rejected_total",
                "Dropped files with refused rows or unreadable (moved to rejected/ with a report).",
                sum.files_rejected);
  AppendCounter(out, "refx_adapter_drop_rows_spooled_total", "Rows of dropped files spooled.", sum.rows_spooled);
  AppendCounter(out, "refx_adapter_drop_rows_rejected_total", "Rows of dropped files refused.", sum.rows_rejected);
  AppendCounter(out, "refx_adapter_drop_spool_failures_total",
                "Passes that left a dropped file in place because the spool failed.", sum.spool_failures);
  AppendGauge(out, "refx_adapter_drop_files_waiting",
              "Files in drop folders not yet taken (being written, or not yet stable).", sum.files_waiting);
}

}  // namespace refx::adapters
