#include "adapters/adapter_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/text_format_errors.h"

namespace refx::adapters {
namespace {

using google::protobuf::TextFormat;
using refx::CollectFirstError;

// "FILE:LINE:COL: " of a field of `message` as parsed into `tree`.
class Where {
 public:
  explicit Where(std::string name) : name_(std::move(name)) {}
  std::string At(const TextFormat::ParseInfoTree* tree, const google::protobuf::Message& message,
                 const char* field_name, int index = -1) const {
    const auto* field = message.GetDescriptor()->FindFieldByName(field_name);
    if (tree != nullptr && field != nullptr) {
      auto loc = tree->GetLocation(field, index);
      if (loc.line >= 0) return name_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1) + ": ";
    }
    return name_ + ": ";
  }
  const TextFormat::ParseInfoTree* Nested(const TextFormat::ParseInfoTree* tree,
                                          const google::protobuf::Message& message, const char* field_name,
                                          int index = -1) const {
    const auto* field = message.GetDescriptor()->FindFieldByName(field_name);
    return tree != nullptr && field != nullptr ? tree->GetTreeForNested(field, index) : nullptr;
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

std::string Resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

}  // namespace

bool AdapterConfig::IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status AdapterConfig::SplitHostPort(const std::string& address, std::string* host, int* port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return Status::InvalidArgument("\"" + address + "\" is not host:port");
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  try {
    size_t used = 0;
    *port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1 || *port < 0 || *port > 65535) throw std::out_of_range("port");
  } catch (...) {
    return Status::InvalidArgument("\"" + address + "\" is not host:port (port 0..65535)");
  }
  return Status::OK();
}

Status AdapterConfig::Load(const std::string& path, std::unique_ptr<AdapterConfig>* out) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = std::filesystem::absolute(path).parent_path().string();
  return Parse(ss.str(), path, base, out);
}

Status AdapterConfig::Parse(const std::string& text, const std::string& name, const std::string& base_dir,
                            std::unique_ptr<AdapterConfig>* out) {
  auto cfg = std::unique_ptr<AdapterConfig>(new AdapterConfig());
  v1::AdapterConfig& c = cfg->config_;
  TextFormat::Parser parser;
  CollectFirstError errors(name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &c)) {
    return Status::InvalidArgument(errors.error().empty() ? name + ": cannot parse" : errors.error());
  }
  Where w(name);
  auto bad = [](const std::string& where, const std::string& why) { return Status::InvalidArgument(where + why); };

  static const std::regex id_pattern("[a-z0-9][a-z0-9-]{1,63}");
  if (c.agency_id().empty()) return bad(name + ":1:1: ", "agency_id is required");
  if (!std::regex_match(c.agency_id(), id_pattern)) {
    return bad(w.At(&tree, c, "agency_id"), "agency_id \"" + c.agency_id() + "\" must be 2-64 characters of a-z, 0-9 and '-'");
  }

  // The broker link and the keys.
  if (!c.has_broker()) return bad(name + ":1:1: ", "broker { ... } is required (endpoint, broker_public_key_file, key_dir)");
  const auto* bt = w.Nested(&tree, c, "broker");
  v1::AdapterBrokerLink* b = c.mutable_broker();
  if (b->endpoint().empty()) b->set_endpoint("tcp://127.0.0.1:7400");
  if (b->endpoint().rfind("tcp://", 0) != 0 && b->endpoint().rfind("ipc://", 0) != 0) {
    return bad(w.At(bt, *b, "endpoint"), "broker endpoint \"" + b->endpoint() + "\" must start tcp:// or ipc://");
  }
  if (b->broker_public_key_file().empty()) return bad(w.At(&tree, c, "broker"), "broker.broker_public_key_file is required");
  b->set_broker_public_key_file(Resolve(base_dir, b->broker_public_key_file()));
  if (Status s = ReadCurveKeyFile(b->broker_public_key_file(), &cfg->broker_public_key_); !s.ok()) {
    return bad(w.At(bt, *b, "broker_public_key_file"), s.message());
  }
  if (b->key_dir().empty()) return bad(w.At(&tree, c, "broker"), "broker.key_dir is required");
  b->set_key_dir(Resolve(base_dir, b->key_dir()));
  if (b->key_name().empty()) b->set_key_name(c.agency_id());
  if (Status s = LoadCurveKeyPair(b->key_dir(), b->key_name(), &cfg->agency_keys_); !s.ok()) {
    return bad(w.At(bt, *b, b->key_dir().empty() ? "key_name" : "key_dir"), s.message());
  }

  if (c.spool_dir().empty()) return bad(name + ":1:1: ", "spool_dir is required");
  c.set_spool_dir(Resolve(base_dir, c.spool_dir()));

  const auto* ft = w.Nested(&tree, c, "forward");
  v1::ForwardSettings* f = c.mutable_forward();
  if (f->batch_max() == 0) f->set_batch_max(256);
  if (f->backoff_initial_ms() == 0) f->set_backoff_initial_ms(200);
  if (f->backoff_max_ms() == 0) f->set_backoff_max_ms(30000);
  if (f->outcomes_keep_days() == 0) f->set_outcomes_keep_days(14);
  if (f->batch_max() > 1024) return bad(w.At(ft, *f, "batch_max"), "batch_max must be 1..1024 (the broker's max_batch)");
  if (f->outcomes_keep_days() > 3660) {
    return bad(w.At(ft, *f, "outcomes_keep_days"), "outcomes_keep_days must be 1..3660 (ten years)");
  }
  if (f->backoff_max_ms() < f->backoff_initial_ms()) {
    return bad(w.At(ft, *f, "backoff_max_ms"), "backoff_max_ms must not be below backoff_initial_ms");
  }

  if (c.has_http()) {
    const auto* ht = w.Nested(&tree, c, "http");
    v1::HttpIntake* h = c.mutable_http();
    std::string host;
    int port = 0;
    if (h->listen().empty()) return bad(w.At(&tree, c, "http"), "http.listen (host:port) is required");
    if (Status s = SplitHostPort(h->listen(), &host, &port); !s.ok()) return bad(w.At(ht, *h, "listen"), s.message());
    h->set_tls_cert_file(Resolve(base_dir, h->tls_cert_file()));
    h->set_tls_key_file(Resolve(base_dir, h->tls_key_file()));
    h->set_tls_client_ca_file(Resolve(base_dir, h->tls_client_ca_file()));
    h->set_token_file(Resolve(base_dir, h->token_file()));
    if (h->tls_cert_file().empty() != h->tls_key_file().empty()) {
      return bad(w.At(ht, *h, h->tls_cert_file().empty() ? "tls_key_file" : "tls_cert_file"),
                 "tls_cert_file and tls_key_file go together");
    }
    if (!IsLoopbackHost(host) && h->tls_cert_file().empty()) {
      return bad(w.At(ht, *h, "listen"), "listening on " + host +
                                             " (not loopback) requires TLS: set tls_cert_file and tls_key_file");
    }
    if (!h->tls_client_ca_file().empty() && h->tls_cert_file().empty()) {
      return bad(w.At(ht, *h, "tls_client_ca_file"), "client certificates need TLS (tls_cert_file, tls_key_file)");
    }
    for (const std::string* file : {&h->tls_cert_file(), &h->tls_key_file(), &h->tls_client_ca_file()}) {
      if (!file->empty() && !std::filesystem::exists(*file)) {
        const char* field = file == &h->tls_cert_file() ? "tls_cert_file"
                            : file == &h->tls_key_file() ? "tls_key_file"
                                                         : "tls_client_ca_file";
        return bad(w.At(ht, *h, field), "no file " + *file);
      }
    }
    if (h->token_file().empty() && h->tls_client_ca_file().empty()) {
      return bad(w.At(&tree, c, "http"), "http needs token_file (bearer tokens) or tls_client_ca_file");
    }
    if (h->worker_threads() == 0) h->set_worker_threads(16);
    if (h->worker_threads() > 1024) return bad(w.At(ht, *h, "worker_threads"), "worker_threads must be 1..1024");
    if (h->max_body_bytes() == 0) h->set_max_body_bytes(262144);
    if (h->rate_limit_per_minute() == 0) h->set_rate_limit_per_minute(600);
  }

  std::set<std::string> formats;
  for (int i = 0; i < c.csv_formats_size(); ++i) {
    const auto* t = w.Nested(&tree, c, "csv_formats", i);
    const v1::CsvFormat& fmt = c.csv_formats(i);
    if (fmt.name().empty()) return bad(w.At(&tree, c, "csv_formats", i), "a csv_formats entry has no name");
    if (!formats.insert(fmt.name()).second) return bad(w.At(t, fmt, "name"), "csv format \"" + fmt.name() + "\" is defined twice");
    if (fmt.reference_column().empty()) {
      return bad(w.At(&tree, c, "csv_formats", i), "csv format \"" + fmt.name() + "\" must name its reference_column");
    }
  }
  std::set<std::string> folders;
  for (int i = 0; i < c.drops_size(); ++i) {
    const auto* t = w.Nested(&tree, c, "drops", i);
    v1::FileDrop* d = c.mutable_drops(i);
    if (d->folder().empty()) return bad(w.At(&tree, c, "drops", i), "a drop needs a folder");
    d->set_folder(Resolve(base_dir, d->folder()));
    if (!folders.insert(d->folder()).second) return bad(w.At(t, *d, "folder"), "drop folder " + d->folder() + " is used twice");
    if (!d->csv_format().empty() && formats.count(d->csv_format()) == 0) {
      return bad(w.At(t, *d, "csv_format"), "no csv_formats entry is named \"" + d->csv_format() + "\"");
    }
    if (d->stable_seconds() == 0) d->set_stable_seconds(2);
    if (d->done_retention_days() == 0) d->set_done_retention_days(30);
  }
  for (int i = 0; i < c.webhooks_size(); ++i) {
    v1::Webhook* hook = c.mutable_webhooks(i);
    hook->set_secret_file(Resolve(base_dir, hook->secret_file()));
    hook->set_tls_ca_file(Resolve(base_dir, hook->tls_ca_file()));
  }

  if (!c.metrics_address().empty()) {
    std::string host;
    int port = 0;
    if (Status s = SplitHostPort(c.metrics_address(), &host, &port); !s.ok()) {
      return bad(w.At(&tree, c, "metrics_address"), s.message());
    }
    if (!IsLoopbackHost(host)) return bad(w.At(&tree, c, "metrics_address"), "metrics_address must be on loopback");
  }
  *out = std::move(cfg);
  return Status::OK();
}

}  // namespace refx::adapters
