// The adapter's configured webhooks (AdapterConfig.webhooks) as
// AdapterComponents: each runs one WebhookSender on its own thread as the
// adapter's agency, with its cursor in SPOOL_DIR/webhooks/.
//
// Thread-safety: AddWebhooks is for the main thread before Adapter::Start.
#pragma once

#include "adapters/adapter.h"
#include "core/status.h"

namespace refx::adapters {

// Reads each webhook's secret file and makes its sender. OK when every
// configured webhook was added (none configured: nothing added); otherwise
// the first error, naming the webhook (secret file unreadable or readable
// by others, URL not https off loopback...), with nothing added.
Status AddWebhooks(Adapter* adapter);

}  // namespace refx::adapters
