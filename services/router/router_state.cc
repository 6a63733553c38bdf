#include "services/router/router_state.h"

#include "core/event_util.h"

namespace refx {

namespace {
std::string CaseKey(const std::string& referral_id, const std::string& destination) {
  return referral_id + '\n' + destination;
}
}  // namespace

void RouterState::AddReferral(uint64_t seq, const std::string& subject_key) {
  if (!subject_key.empty()) subject_by_seq_[seq] = subject_key;
}

void RouterState::AddCase(const std::string& referral_id, const std::string& destination,
                          const CivilDate& routed_on) {
  uint64_t seq = 0;
  if (!SeqForReferralId(referral_id, &seq)) return;
  cases_.insert(CaseKey(referral_id, destination));
  auto it = subject_by_seq_.find(seq);
  if (it == subject_by_seq_.end()) return;
  history_[it->second][destination][seq] = routed_on;
}

bool RouterState::HasCase(const std::string& referral_id, const std::string& destination) const {
  return cases_.count(CaseKey(referral_id, destination)) > 0;
}

std::string RouterState::SubjectKeyOf(uint64_t seq) const {
  auto it = subject_by_seq_.find(seq);
  return it == subject_by_seq_.end() ? std::string() : it->second;
}

std::optional<CivilDate> RouterState::LastRoutedOn(const std::string& subject_key, const std::string& destination,
                                                   uint64_t before_seq) const {
  auto subject = history_.find(subject_key);
  if (subject == history_.end()) return std::nullopt;
  auto dest = subject->second.find(destination);
  if (dest == subject->second.end()) return std::nullopt;
  std::optional<CivilDate> last;
  for (auto it = dest->second.begin(); it != dest->second.end() && it->first < before_seq; ++it) {
    if (!last || *last < it->second) last = it->second;
  }
  return last;
}

}  // namespace refx
