// The file drop inside refx-adapter: one FileDrop watcher per `drops` entry
// of the adapter's configuration, spooling into the adapter's spool and
// waking its forwarder, with the drops' counters on the adapter's /metrics.
//
// Thread-safety: as AdapterComponent (Start and Stop from the main thread).
#ifndef REFX_ADAPTERS_FILEDROP_COMPONENT_H_
#define REFX_ADAPTERS_FILEDROP_COMPONENT_H_

#include <memory>
#include <vector>

#include "adapters/adapter.h"
#include "adapters/filedrop/file_drop.h"

namespace refx::adapters {

class FileDropComponent : public AdapterComponent {
 public:
  // Opens a watcher for each of adapter->config().proto().drops(), with the
  // csv_formats entry each names. `adapter` must outlive the component. On
  // error (a folder that cannot be made, a wrong CSV format) *out is unset
  // and the status names the drop folder.
  static Status Create(Adapter* adapter, std::unique_ptr<FileDropComponent>* out);

  Status Start() override;
  void Stop() override;
  void AppendMetrics(std::string* out) const override;

 private:
  std::vector<std::unique_ptr<FileDrop>> drops_;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FILEDROP_COMPONENT_H_
