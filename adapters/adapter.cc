#include "adapters/adapter.h"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace refx::adapters {
Status Adapter::Open(std::unique_ptr<AdapterConfig> config, std::unique_ptr<Adapter>* out) {
  std::unique_ptr<Adapter> a(new Adapter());
  a->config_ = std::move(config);
  REFX_RETURN_IF_ERROR(Spool::Open(a->config_->proto().spool_dir(), &a->spool_));
  const v1::ForwardSettings& f = a->config_->proto().forward();
  OutcomeIndexOptions oo;
  oo.keep = std::chrono::hours(24 * static_cast<int64_t>(f.outcomes_keep_days()));  // set by the config's checks
  REFX_RETURN_IF_ERROR(OutcomeIndex::Open(a->config_->proto().spool_dir() + "/outcomes.log", &a->outcomes_, oo));
  ForwarderOptions fo;
  fo.batch_max = f.batch_max();
  fo.backoff_initial_ms = f.backoff_initial_ms();
  fo.backoff_max_ms = f.backoff_max_ms();
  ClientOptions co = a->client_options();
  // The forwarder retries on its own, with its back-off, for ever; one
  // call gives up soon so that its figures show the broker is down.
  co.max_attempts = 2;
  a->forwarder_ = std::make_unique<Forwarder>(fo, co, a->spool_.get(), a->outcomes_.get());
  *out = std::move(a);
  return Status::OK();
}

Adapter::~Adapter() { Stop(); }

ClientOptions Adapter::client_options() const {
  ClientOptions o;
  o.endpoint = config_->proto().broker().endpoint();
  o.server_public_key = config_->broker_public_key();
  o.client_keys = config_->agency_keys();
  o.request_timeout_ms = 5000;
  return o;
}

void Adapter::Spooled() { forwarder_->Wake(); }

void Adapter::AddComponent(std::unique_ptr<AdapterComponent> component) { components_.push_back(std::move(component)); }

Status Adapter::Query(const v1::QueryRequest& q, v1::QueryResult* result) {
  std::unique_ptr<BrokerClient> client;
  {
    std::lock_guard<std::mutex> lock(query_mu_);
    if (!query_clients_.empty()) {
      client = std::move(query_clients_.back());
      query_clients_.pop_back();
    }
  }
  if (!client) {
    ClientOptions o = client_options();
    o.request_timeout_ms = 2000;
    o.max_attempts = 1;
    client = std::make_unique<BrokerClient>(o);
  }
  Status s = client->Query(q, result);
  std::lock_guard<std::mutex> lock(query_mu_);
  query_clients_.push_back(std::move(client));
  return s;
}

Status Adapter::Start() {
  forwarder_->Start();
  Status s;
  if (config_->proto().has_http()) {
    IntakeDeps deps;
    deps.config = config_.get();
    deps.spool = spool_.get();
    deps.outcomes = outcomes_.get();
    deps.spooled = [this] { Spooled(); };
    deps.query = [this](const std::string& id, v1::QueryResult* r) {
      v1::QueryRequest q;
      q.set_referral_id(id);
      return Query(q, r);
    };
    deps.lookup = [this](const std::string& reference, v1::QueryResult* r) {
      v1::QueryRequest q;
      q.set_referrer_reference(reference);
      return Query(q, r);
    };
    deps.outcomes_keep_days = config_->proto().forward().outcomes_keep_days();
    intake_ = std::make_unique<HttpIntake>(std::move(deps));
    s = intake_->Start();
  }
  if (s.ok() && !config_->proto().metrics_address().empty()) {
    metrics_ = std::make_unique<MetricsHttpServer>([this] { return RenderMetrics(); },
                                                   [this](std::string* fields) { return Healthy(fields); });
    s = metrics_->Start(config_->proto().metrics_address());
  }
  for (; s.ok() && started_components_ < components_.size(); ++started_components_) {
    s = components_[started_components_]->Start();
  }
  if (!s.ok()) Stop();
  return s;
}

void Adapter::Stop() {
  while (started_components_ > 0) components_[--started_components_]->Stop();
  if (metrics_) metrics_->Stop();
  if (intake_) intake_->Stop();
  if (forwarder_) forwarder_->Stop();
}

std::string Adapter::RenderMetrics() const {
  std::string out;
  const SpoolFigures sf = spool_->Figures();
  const ForwarderFigures ff = forwarder_->Figures();
  AppendGauge(&out, "refx_adapter_spool_units", "Units in the spool waiting to be forwarded.", sf.units);
  AppendGauge(&out, "refx_adapter_spool_depth", "Referrals in the spool the broker has not acknowledged.",
              sf.referrals);
  char age[64];
  std::snprintf(age, sizeof(age), "%.3f", sf.oldest_age_seconds);
  out += "# HELP refx_adapter_spool_oldest_age_seconds Age of the oldest unit in the spool (0 when empty).\n"
         "# TYPE refx_adapter_spool_oldest_age_seconds gauge\nrefx_adapter_spool_oldest_age_seconds " +
         std::string(age) + "\n";
  AppendCounter(&out, "refx_adapter_forwarded_total", "Referrals the broker acknowledged.", ff.forwarded);
  AppendCounter(&out, "refx_adapter_refused_total", "Referrals the broker refused (recorded, not retried).",
                ff.refused);
  AppendCounter(&out, "refx_adapter_forward_failures_total",
                "Forward attempts that failed (broker unreachable or busy) and were retried.", ff.failures);
  AppendGauge(&out, "refx_adapter_broker_reachable", "1 when the last forward reached the broker.",
              ff.broker_reachable ? 1 : 0);
  if (intake_) intake_->AppendMetrics(&out);
  for (const auto& c : components_) c->AppendMetrics(&out);
  return out;
}

bool Adapter::Healthy(std::string* fields) const {
  const SpoolFigures sf = spool_->Figures();
  const ForwarderFigures ff = forwarder_->Figures();
  char buf[160];
  std::snprintf(buf, sizeof(buf), "\"spool_depth\":%llu,\"oldest_age_seconds\":%.3f,\"broker_reachable\":%s",
                static_cast<unsigned long long>(sf.referrals), sf.oldest_age_seconds,
                ff.broker_reachable ? "true" : "false");
  *fields = buf;
  return sf.referrals == 0 || ff.broker_reachable;
}

}  // namespace refx::adapters
