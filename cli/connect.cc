#include "cli/connect.h"

#include "core/frame_codec.h"

namespace refx::cli {

Status ConnectAs(const ConnectionFlags& flags, const std::string& agency_id, std::unique_ptr<BrokerClient>* out) {
  ClientOptions options;
  REFX_RETURN_IF_ERROR(ConnectedClientOptions(flags, agency_id, &options));
  *out = std::make_unique<BrokerClient>(options);
  return Status::OK();
}

Status HeadSeq(BrokerClient* client, uint64_t* head) {
  v1::Frame request, reply;
  request.mutable_heartbeat();
  REFX_RETURN_IF_ERROR(client->Call(request, &reply));
  if (reply.has_error()) return StatusFromError(reply.error());
  if (!reply.has_heartbeat()) return Status::Internal("unexpected reply to a heartbeat");
  *head = reply.heartbeat().head_seq();
  return Status::OK();
}

}  // namespace refx::cli
