#include "services/router/router_state.h"

#include <algorithm>

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
  DestinationHistory& h = history_[it->second][destination];
  auto [entry, added] = h.dates.emplace(seq, routed_on);
  if (!added) {
    const bool was_latest = entry->second == h.latest;
    entry->second = routed_on;
    if (was_latest && routed_on < h.latest) {
      // The latest date moved back (recorded again with the broker's date): recompute.
      h.latest = routed_on;
      for (const auto& [s, on] : h.dates) {
        if (h.latest < on) h.latest = on;
      }
      return;
    }
  }
  if (h.dates.size() == 1 || h.latest < routed_on) h.latest = routed_on;
}

bool RouterState::HasCase(const std::string& referral_id, const std::string& destination) const {
  return cases_.count(CaseKey(referral_id, destination)) > 0;
}

std::vector<uint64_t> RouterState::UnindexedSubjects(uint64_t up_to_seq) const {
  std::vector<uint64_t> seqs;
  for (const auto& [seq, key] : subject_by_seq_) {
    if (seq <= up_to_seq && !subject_indexed_.count(seq)) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
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
  const DestinationHistory& h = dest->second;
  if (h.dates.empty() || h.dates.begin()->first >= before_seq) return std::nullopt;
  if (h.dates.rbegin()->first < before_seq) return h.latest;
  std::optional<CivilDate> last;
  for (auto it = h.dates.begin(); it != h.dates.end() && it->first < before_seq; ++it) {
    if (!last || *last < it->second) last = it->second;
  }
  return last;
}

}  // namespace refx
