// E-mail alerts to a destination's leads, and sending them through the
// partnership's SMTP relay (libcurl).
//
// An alert says which referral and destination, what happened (a new case,
// a deadline about to pass, an escalation), the deadline, and where to look
// (the console's address and the CLI command). It never holds personal
// data: ComposeAlert reads nothing of a referral but its id, and of the
// configuration only destination codes and names (services, not people).
//
// Thread-safety: ComposeAlert is pure; an SmtpMailer is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/partnership_config.h"
#include "core/status.h"

namespace refx::notifier {

struct Alert {
  enum class Kind { kNewCase, kDeadlineNear, kEscalated };
  Kind kind = Kind::kNewCase;
  std::string referral_id;
  std::string destination;
  int64_t deadline = 0;        // Unix seconds; 0 = none
  std::string escalated_to;    // kEscalated: the destination told
  uint64_t seq = 0;            // the event that raised it (0: a deadline check)
  // "new:<ref>:<dest>", "deadline:<ref>:<dest>", "escalated:<ref>:<dest>":
  // what makes the alert once-only.
  std::string Key() const;
  // The case a Key names. False when `key` is not of that form.
  static bool ParseKey(const std::string& key, std::string* referral_id, std::string* destination);
};

struct MailMessage {
  std::vector<std::string> to;
  std::string subject;
  std::string body;  // plain text, lines ending "\r\n"
};

// The message for `alert`: to the alert_emails of its destination (and, for
// an escalation, of escalated_to), without repeats. An empty `to` means
// nobody is configured for it.
MailMessage ComposeAlert(const Alert& alert, const PartnershipConfig& config, const v1::AlertSettings& settings);

// Referral ids a digest lists by name; the rest are counted.
inline constexpr size_t kDigestListed = 100;

// One message for several new-case alerts of one destination (a digest:
// the notifier sends one when more new cases wait for a destination than
// it sends e-mails for one by one, as in a bulk import). To the
// destination's alert_emails; lists the first kDigestListed referral ids
// with their deadlines, in the order given, and says how many more there
// are. Like ComposeAlert, it holds no personal data. `alerts` must be
// non-empty, all kNewCase and of `destination`.
MailMessage ComposeNewCaseDigest(const std::string& destination, const std::vector<const Alert*>& alerts,
                                 const PartnershipConfig& config, const v1::AlertSettings& settings);

class SmtpMailer {
 public:
  // `settings.smtp_url` is smtp://host:port or smtps://host:port. Off
  // loopback a relay must speak TLS (smtps://, or STARTTLS on smtp://,
  // which is then required).
  explicit SmtpMailer(v1::AlertSettings settings, int timeout_ms = 10000);

  // Sends `message` from settings.from_address. OK once the relay accepted
  // it for every recipient; Unavailable (with libcurl's reason and the
  // relay's answer) otherwise: nothing may have been sent, or it may have
  // gone to some recipients, so a retry can repeat it.
  Status Send(const MailMessage& message) const;

 private:
  v1::AlertSettings settings_;
  int timeout_ms_;
};

}  // namespace refx::notifier
