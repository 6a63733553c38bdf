#include "services/notifier/alert_mail.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <regex>

#include "core/london_time.h"

namespace refx::notifier {

namespace {

void AddAddresses(const v1::Destination* d, std::vector<std::string>* to) {
  if (d == nullptr) return;
  for (const std::string& a : d->alert_emails()) {
    if (std::find(to->begin(), to->end(), a) == to->end()) to->push_back(a);
  }
}

std::string Named(const PartnershipConfig& config, const std::string& code) {
  const v1::Destination* d = config.DestinationByCode(code);
  return d == nullptr || d->name().empty() ? code : code + " (" + d->name() + ")";
}

// RFC 5322 date of now.
std::string MailDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadPayload(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, up->data->size() - up->offset);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

bool OnLoopback(const std::string& url) {
  static const std::regex kLoopback(R"(^smtps?://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?/?.*$)");
  return std::regex_match(url, kLoopback);
}

}  // namespace

std::string Alert::Key() const {
  const char* kind_name = kind == Kind::kNewCase ? "new" : kind == Kind::kDeadlineNear ? "deadline" : "escalated";
  return std::string(kind_name) + ":" + referral_id + ":" + destination;
}

bool Alert::ParseKey(const std::string& key, std::string* referral_id, std::string* destination) {
  // Referral ids and destination codes hold no ':'.
  const size_t first = key.find(':');
  const size_t last = key.rfind(':');
  if (first == std::string::npos || last == first || last + 1 == key.size() || last == first + 1) return false;
  *referral_id = key.substr(first + 1, last - first - 1);
  *destination = key.substr(last + 1);
  return referral_id->find(':') == std::string::npos;
}

MailMessage ComposeAlert(const Alert& alert, const PartnershipConfig& config, const v1::AlertSettings& settings) {
  MailMessage m;
  AddAddresses(config.DestinationByCode(alert.destination), &m.to);
  const std::string deadline = alert.deadline > 0 ? LondonTimeMinutes(alert.deadline) : "none set";
  std::string what;
  switch (alert.kind) {
    case Alert::Kind::kNewCase:
      m.subject = "[refx] New case " + alert.referral_id + " for " + alert.destination;
      what = "A new case has been delivered to " + Named(config, alert.destination) + ".";
      break;
    case Alert::Kind::kDeadlineNear:
      m.subject = "[refx] Deadline near: " + alert.referral_id + " for " + alert.destination + " due " + deadline;
      what = "The case at " + Named(config, alert.destination) +
             " has not been acknowledged and its deadline is about to pass.";
      break;
    case Alert::Kind::kEscalated:
      AddAddresses(config.DestinationByCode(alert.escalated_to), &m.to);
      m.subject = "[refx] Escalated: " + alert.referral_id + " at " + alert.destination + " to " + alert.escalated_to;
      what = "The case at " + Named(config, alert.destination) + " has been escalated to " +
             Named(config, alert.escalated_to) + ".";
      break;
  }
  const std::string console = settings.console_url().empty() ? "the refx console" : settings.console_url();
  m.body = what + "\r\n\r\nReferral: " + alert.referral_id + "\r\nDestination: " + alert.destination +
           "\r\nDeadline: " + deadline + "\r\n\r\nWhere to look: " + console + "\r\n  or: refx inbox show " +
           alert.referral_id + " --as " + alert.destination +
           "\r\n\r\nThis e-mail holds no details of the people concerned; read the case in refx.\r\n";
  return m;
}

MailMessage ComposeNewCaseDigest(const std::string& destination, const std::vector<const Alert*>& alerts,
                                 const PartnershipConfig& config, const v1::AlertSettings& settings) {
  MailMessage m;
  AddAddresses(config.DestinationByCode(destination), &m.to);
  const std::string count = std::to_string(alerts.size());
  m.subject = "[refx] " + count + " new cases for " + destination;
  std::string list;
  for (size_t i = 0; i < alerts.size() && i < kDigestListed; ++i) {
    const Alert& a = *alerts[i];
    list += "  " + a.referral_id + "  due " + (a.deadline > 0 ? LondonTimeMinutes(a.deadline) : "none set") + "\r\n";
  }
  if (alerts.size() > kDigestListed) list += "  and " + std::to_string(alerts.size() - kDigestListed) + " more\r\n";
  const std::string console = settings.console_url().empty() ? "the refx console" : settings.console_url();
  m.body = count + " new cases have been delivered to " + Named(config, destination) +
           ". They come in one e-mail because more new cases arrived for it at once than are sent one by one.\r\n\r\n"
           "Referrals:\r\n" + list + "\r\nWhere to look: " + console + "\r\n  or: refx inbox list --as " +
           destination + "\r\n\r\nThis e-mail holds no details of the people concerned; read the cases in refx.\r\n";
  return m;
}

SmtpMailer::SmtpMailer(v1::AlertSettings settings, int timeout_ms)
    : settings_(std::move(settings)), timeout_ms_(timeout_ms) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
}

Status SmtpMailer::Send(const MailMessage& message) const {
  if (message.to.empty()) return Status::OK();
  std::string payload = "Date: " + MailDate() + "\r\nFrom: " + settings_.from_address() + "\r\nTo: ";
  for (size_t i = 0; i < message.to.size(); ++i) payload += (i ? ", " : "") + message.to[i];
  payload += "\r\nSubject: " + message.subject +
             "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Auto-Submitted: auto-generated\r\n\r\n" +
             message.body;

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("libcurl could not start a transfer");
  curl_slist* rcpt = nullptr;
  for (const std::string& to : message.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> rcpt_guard(rcpt, curl_slist_free_all);
  Upload upload{&payload};
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, settings_.smtp_url().c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + settings_.from_address() + ">").c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadPayload);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  if (!OnLoopback(settings_.smtp_url())) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    long answer = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer);
    return Status::Unavailable("the SMTP relay " + settings_.smtp_url() + " did not take the alert: " +
                               (error[0] ? error : curl_easy_strerror(rc)) +
                               (answer ? " (relay answered " + std::to_string(answer) + ")" : ""));
  }
  return Status::OK();
}

}  // namespace refx::notifier
