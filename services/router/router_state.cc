#include "services/router/router_state.h"

#include "core/event_util.h"
#include "services/common/state_snapshot.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace refx {

namespace {
std::string CaseKey(const std::string& referral_id, const std::string& destination) {
  return referral_id + '\n' + destination;
}
}  // namespace

void RouterState::AddReferral(uint64_t seq, const std::string& subject_key, const CivilDate& submitted_on) {
  if (!subject_key.empty()) subject_by_seq_[seq] = {subject_key, submitted_on.ToDays()};
}

void RouterState::AddCase(const std::string& referral_id, const std::string& destination,
                          const CivilDate& routed_on) {
  uint64_t seq = 0;
  if (!SeqForReferralId(referral_id, &seq)) return;
  cases_[CaseKey(referral_id, destination)] = routed_on.ToDays();
  auto it = subject_by_seq_.find(seq);
  if (it == subject_by_seq_.end()) return;
  DestinationHistory& h = history_[it->second.subject_key][destination];
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
  return it == subject_by_seq_.end() ? std::string() : it->second.subject_key;
}

void RouterState::RestoreSubject(uint64_t seq, const std::string& subject_key, const CivilDate& on,
                                 const std::vector<std::string>& destinations) {
  if (subject_key.empty() || subject_by_seq_.count(seq)) return;
  subject_by_seq_[seq] = {subject_key, on.ToDays()};
  const std::string referral_id = ReferralIdForSeq(seq);
  for (const std::string& destination : destinations) {
    auto it = cases_.find(CaseKey(referral_id, destination));
    if (it != cases_.end()) AddCase(referral_id, destination, CivilDate::FromDays(it->second));
  }
}

bool RouterState::ForgetSubject(uint64_t seq) {
  auto it = subject_by_seq_.find(seq);
  if (it == subject_by_seq_.end()) return false;
  if (auto subject = history_.find(it->second.subject_key); subject != history_.end()) {
    for (auto dest = subject->second.begin(); dest != subject->second.end();) {
      DestinationHistory& h = dest->second;
      if (h.dates.erase(seq) > 0 && !h.dates.empty()) {
        h.latest = h.dates.begin()->second;
        for (const auto& [s, on] : h.dates) {
          if (h.latest < on) h.latest = on;
        }
      }
      dest = h.dates.empty() ? subject->second.erase(dest) : std::next(dest);
    }
    if (subject->second.empty()) history_.erase(subject);
  }
  subject_by_seq_.erase(it);
  return true;
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

size_t RouterState::ForgetBefore(const CivilDate& cutoff) {
  const int64_t before = cutoff.ToDays();
  size_t dropped = 0;
  for (auto it = subject_by_seq_.begin(); it != subject_by_seq_.end();) {
    if (it->second.day < before) {
      subject_indexed_.erase(it->first);
      it = subject_by_seq_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  for (auto it = cases_.begin(); it != cases_.end();) {
    if (it->second < before) {
      it = cases_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  for (auto subject = history_.begin(); subject != history_.end();) {
    for (auto dest = subject->second.begin(); dest != subject->second.end();) {
      DestinationHistory& h = dest->second;
      for (auto d = h.dates.begin(); d != h.dates.end();) {
        if (d->second.ToDays() < before) {
          d = h.dates.erase(d);
          ++dropped;
        } else {
          ++d;
        }
      }
      // `latest` is the newest date left (it was at least as new as any of them).
      dest = h.dates.empty() ? subject->second.erase(dest) : std::next(dest);
    }
    subject = subject->second.empty() ? history_.erase(subject) : std::next(subject);
  }
  return dropped;
}

void RouterState::ToSnapshotChunks(size_t per_chunk,
                                   const std::function<void(const v1::RouterSnapshot&)>& add) const {
  ChunkWriter<v1::RouterSnapshot> w(per_chunk, add);
  v1::RouterSnapshot& out = *w.chunk();
  out.set_referral_count(subject_by_seq_.size());
  out.set_case_count(cases_.size());
  out.set_indexed_count(subject_indexed_.size());
  for (const auto& [seq, r] : subject_by_seq_) {
    v1::RouterSnapshot::Referral* o = out.add_referrals();
    o->set_seq(seq);
    o->set_subject_key(r.subject_key);
    o->set_submitted_day(r.day);
    w.Added();
  }
  for (const auto& [key, day] : cases_) {
    const size_t nl = key.find('\n');
    v1::RouterSnapshot::Case* o = out.add_cases();
    o->mutable_referral_id()->assign(key, 0, nl);
    o->mutable_destination()->assign(key, nl + 1);
    o->set_routed_day(day);
    w.Added();
  }
  for (const auto& [subject, by_dest] : history_) {
    for (const auto& [dest, h] : by_dest) {
      v1::RouterSnapshot::Routed* o = out.add_history();
      o->set_subject_key(subject);
      o->set_destination(dest);
      for (const auto& [seq, on] : h.dates) {
        o->add_seqs(seq);
        o->add_routed_days(on.ToDays());
      }
      w.Added();
    }
  }
  for (const std::string& id : withdrawn_) {
    out.add_withdrawn(id);
    w.Added();
  }
  for (uint64_t seq : subject_indexed_) {
    out.add_subject_indexed(seq);
    w.Added();
  }
  w.Flush();
}

void RouterState::AddSnapshotChunk(const v1::RouterSnapshot& in) {
  if (in.referral_count() > 0) subject_by_seq_.reserve(in.referral_count());
  if (in.case_count() > 0) cases_.reserve(in.case_count());
  if (in.indexed_count() > 0) subject_indexed_.reserve(in.indexed_count());
  for (const auto& r : in.referrals()) subject_by_seq_[r.seq()] = {r.subject_key(), r.submitted_day()};
  for (uint64_t seq : in.subject_indexed()) subject_indexed_.insert(seq);
  std::string key;
  for (const auto& c : in.cases()) {
    key.assign(c.referral_id()).append(1, '\n').append(c.destination());
    cases_[key] = c.routed_day();
  }
  for (const auto& r : in.history()) {
    const int n = std::min(r.seqs_size(), r.routed_days_size());
    if (n == 0) continue;
    DestinationHistory& h = history_[r.subject_key()][r.destination()];
    for (int i = 0; i < n; ++i) {
      const CivilDate on = CivilDate::FromDays(r.routed_days(i));
      h.dates.emplace_hint(h.dates.end(), r.seqs(i), on);
      if (h.dates.size() == 1 || h.latest < on) h.latest = on;
    }
  }
  for (const std::string& id : in.withdrawn()) withdrawn_.insert(withdrawn_.end(), id);
}

void RouterState::ToSnapshot(v1::RouterSnapshot* out) const {
  out->Clear();
  ToSnapshotChunks(SIZE_MAX, [out](const v1::RouterSnapshot& chunk) { out->MergeFrom(chunk); });
}

void RouterState::FromSnapshot(const v1::RouterSnapshot& in) {
  *this = RouterState();
  AddSnapshotChunk(in);
}

}  // namespace refx
