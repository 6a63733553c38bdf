#include "adapters/webhook/webhook_component.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "adapters/webhook/webhook_sender.h"
#include "adapters/webhook/webhook_signature.h"

namespace refx::adapters {

namespace {

class WebhookComponent : public AdapterComponent {
 public:
  explicit WebhookComponent(std::unique_ptr<WebhookSender> sender) : sender_(std::move(sender)) {}
  ~WebhookComponent() override { Stop(); }

  Status Start() override {
    thread_ = std::thread([this] {
      Status s = sender_->Run([this] { return stop_.load(); });
      if (!s.ok()) spdlog::error("webhook {}: stopped: {}", sender_->name(), s.ToString());
    });
    return Status::OK();
  }
  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void AppendMetrics(std::string* out) const override { *out += sender_->RenderMetrics(); }

 private:
  std::unique_ptr<WebhookSender> sender_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Status AddWebhooks(Adapter* adapter) {
  const v1::AdapterConfig& config = adapter->config().proto();
  std::vector<std::unique_ptr<AdapterComponent>> made;
  for (const v1::Webhook& hook : config.webhooks()) {
    WebhookOptions options;
    options.webhook = hook;
    if (hook.secret_file().empty()) {
      return Status::InvalidArgument("webhook \"" + hook.name() + "\" needs a secret_file", "webhooks.secret_file");
    }
    REFX_RETURN_IF_ERROR(LoadWebhookSecret(hook.secret_file(), &options.secret));
    options.client = adapter->client_options();
    options.state_dir = config.spool_dir() + "/webhooks";
    std::unique_ptr<WebhookSender> sender;
    REFX_RETURN_IF_ERROR(WebhookSender::Create(std::move(options), &sender));
    made.push_back(std::make_unique<WebhookComponent>(std::move(sender)));
  }
  for (auto& component : made) adapter->AddComponent(std::move(component));
  return Status::OK();
}

}  // namespace refx::adapters
