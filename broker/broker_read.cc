// Read sessions: streaming the log to services, leads and auditors with
// credit-based flow control (see broker.h and wire.proto's ReadRequest).
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "core/event_util.h"
#include "core/frame_codec.h"

namespace refx::broker {

namespace {
// Per session and turn of the loop: at most this many events sent, and this
// many looked at, so one big replay cannot hold up the next write batch.
constexpr uint64_t kMaxEventsPerBatch = 512;
constexpr uint64_t kMaxScanPerTurn = 4096;
constexpr uint64_t kDefaultCredit = 1000;
constexpr uint64_t kMaxCredit = 1'000'000;

// The body field number of the stored event `bytes` (0 if none) and whether
// it has sealed personal fields, from its top-level tags: nothing is parsed
// or opened for an event a read skips by kind.
void BodyAndSealed(std::string_view bytes, int* body, bool* sealed) {
  using google::protobuf::internal::WireFormatLite;
  *body = 0;
  *sealed = false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  static const google::protobuf::OneofDescriptor* const kBody = v1::Event::descriptor()->FindOneofByName("body");
  while (const uint32_t tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if (number == v1::Event::kSealedFieldNumber) {
      *sealed = true;
    } else if (*body == 0) {
      const google::protobuf::FieldDescriptor* field = v1::Event::descriptor()->FindFieldByNumber(number);
      if (field != nullptr && field->containing_oneof() == kBody) *body = number;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return;
  }
}

// The bit of Event body field `number` in ReadSession::body_mask, or 0 when
// `number` is not a body field (the mask has room for every body number).
uint64_t BodyBit(int number) {
  static const google::protobuf::OneofDescriptor* const kBody = v1::Event::descriptor()->FindOneofByName("body");
  const google::protobuf::FieldDescriptor* field = v1::Event::descriptor()->FindFieldByNumber(number);
  if (field == nullptr || field->containing_oneof() != kBody || number >= 64) return 0;
  return uint64_t{1} << number;
}
}  // namespace

bool Broker::PassesFilters(const ReadSession& s, const v1::Event& event) {
  if (s.since_nanos != 0 || s.until_nanos != 0) {
    const int64_t t = google::protobuf::util::TimeUtil::TimestampToNanoseconds(event.time());
    if (s.since_nanos != 0 && t < s.since_nanos) return false;
    if (s.until_nanos != 0 && t >= s.until_nanos) return false;
  }
  if (!s.agency.empty() && event.actor() != s.agency) {
    const auto& owned = ledger_->OwnedBy(s.agency);
    if (!owned.count(DestinationOf(event))) return false;
  }
  return true;
}

void Broker::HandleRead(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                        const v1::StaffMember* person) {
  const v1::ReadRequest& r = frame.read();
  if (!Ledger::MaySeeAll(actor) && !PartnershipConfig::HasRole(actor, v1::LEAD)) {
    return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() +
                                                       "\" may not read the log (needs SERVICE, AUDITOR or LEAD)"));
  }
  if (!r.destination().empty() && !config_->DestinationByCode(r.destination())) {
    return ReplyError(waiter, Status::UnknownAgency("destination \"" + r.destination() + "\" is not configured",
                                                    "read.destination"));
  }
  if (!r.agency().empty() && !config_->AgencyById(r.agency())) {
    return ReplyError(waiter, Status::UnknownAgency("agency \"" + r.agency() + "\" is not configured", "read.agency"));
  }
  uint64_t body_mask = 0;
  for (int i = 0; i < r.bodies_size(); ++i) {
    const uint64_t bit = BodyBit(r.bodies(i));
    if (bit == 0) {
      return ReplyError(waiter, Status::InvalidArgument(std::to_string(r.bodies(i)) +
                                                            " is not the field number of an Event body",
                                                        "read.bodies[" + std::to_string(i) + "]"));
    }
    body_mask |= bit;
  }
  if (!v1::ReadForm_IsValid(r.form())) {
    return ReplyError(waiter, Status::InvalidArgument("unknown read form " + std::to_string(r.form()), "read.form"));
  }
  const bool audited = IsAuditedReader(actor, person, r.purpose());
  if (audited && !CheckAuditPurpose(r.purpose(), waiter)) return;
  ReadSession session;
  session.body_mask = body_mask;
  session.form = r.form();
  session.waiter = waiter;
  session.identity = waiter.agency->id();
  if (person != nullptr) session.person = person->id();
  session.next_seq = r.after_seq() + 1;
  session.to_seq = r.to_seq();
  session.credit = r.initial_credit() == 0 ? kDefaultCredit : std::min<uint64_t>(r.initial_credit(), kMaxCredit);
  session.follow = r.follow();
  session.referral_id = r.referral_id();
  session.destination = r.destination();
  session.indexed = !session.referral_id.empty() || !session.destination.empty();
  if (r.has_since()) session.since_nanos = google::protobuf::util::TimeUtil::TimestampToNanoseconds(r.since());
  if (r.has_until()) session.until_nanos = google::protobuf::util::TimeUtil::TimestampToNanoseconds(r.until());
  session.agency = r.agency();
  session.key_fingerprint = read_key_;
  if (audited) {
    // The read is recorded first; the session starts once that is durable.
    std::string what = "read seq " + std::to_string(r.after_seq() + 1) + ".." +
                       (r.to_seq() ? std::to_string(r.to_seq()) : std::string(r.follow() ? "follow" : "head"));
    if (!r.referral_id().empty()) what += " referral " + r.referral_id();
    if (!r.destination().empty()) what += " destination " + r.destination();
    if (!r.agency().empty()) what += " agency " + r.agency();
    if (r.has_since()) what += " since " + google::protobuf::util::TimeUtil::ToString(r.since());
    if (r.has_until()) what += " until " + google::protobuf::util::TimeUtil::ToString(r.until());
    StageAccess(actor, what, r.purpose(), r.referral_id(), person);
    ledger_->building().deferred_sessions.push_back(std::move(session));
    return;
  }
  reads_->ended.erase(waiter.routing_id);
  reads_->open[waiter.routing_id] = std::move(session);
  metrics_.read_sessions = reads_->open.size();
  spdlog::debug("broker: read by {} from seq {} (follow {})", actor.id(), r.after_seq() + 1, r.follow());
}

void Broker::HandleCredit(const v1::Frame& frame, const Waiter& waiter) {
  auto it = reads_->open.find(waiter.routing_id);
  if (it == reads_->open.end()) {
    if (reads_->ended.count(waiter.routing_id)) {
      spdlog::debug("broker: credit after the end of a read (request {}); nothing to do", waiter.correlation_id);
      return;
    }
    return ReplyError(waiter, Status::NotFound("no read in progress on this connection"));
  }
  it->second.credit = std::min<uint64_t>(it->second.credit + frame.credit().events(), kMaxCredit);
}

bool Broker::ServeReads() {
  bool more = false;
  for (auto it = reads_->open.begin(); it != reads_->open.end();) {
    const bool alive = ServeSession(it->second);
    if (!alive) {
      if (reads_->ended.size() >= ReadSessions::kMaxEnded) reads_->ended.clear();
      reads_->ended.insert(it->first);
      it = reads_->open.erase(it);
      continue;
    }
    const ReadSession& s = it->second;
    const uint64_t limit = s.to_seq ? std::min(s.to_seq, log_->head_seq()) : log_->head_seq();
    if (s.credit > 0 && (s.next_seq <= limit || (s.indexed && s.index_pos < s.index_seqs.size()))) more = true;
    ++it;
  }
  metrics_.read_sessions = reads_->open.size();
  return more;
}

// Sends one EventBatch if the session is owed one. Returns false when the
// session is over (finished, or the client has gone).
bool Broker::ServeSession(ReadSession& s) {
  const uint64_t head = log_->head_seq();
  const uint64_t limit = s.to_seq ? std::min(s.to_seq, head) : head;
  if (s.credit == 0) return true;
  // Rights are looked up again on every turn, so a reload that removes the
  // agency or disables the person ends the read.
  const v1::Agency* identity = config_->AgencyById(s.identity);
  if (identity == nullptr) {
    ReplyError(s.waiter, Status::PermissionDenied("agency \"" + s.identity + "\" is no longer configured"));
    return false;
  }
  if (!s.key_fingerprint.empty()) {
    Status key = CheckConnectionKey(s.key_fingerprint.c_str(), *identity, *config_, std::time(nullptr));
    if (!key.ok()) {
      ReplyError(s.waiter, key);
      return false;
    }
  }
  const v1::Agency* acting = identity;
  const v1::StaffMember* person = nullptr;
  v1::Agency acting_for;
  if (!s.person.empty()) {
    Status st = ledger_->ActingFor(*identity, s.person, &acting_for, &person);
    if (!st.ok()) {
      ReplyError(s.waiter, st);
      return false;
    }
    acting = &acting_for;
  }
  const v1::Agency& agency = *acting;
  const bool all = Ledger::MaySeeAll(agency);

  v1::Frame frame;
  frame.set_correlation_id(s.waiter.correlation_id);
  v1::EventBatch* batch = frame.mutable_events();
  const uint64_t max_events = std::min(s.credit, kMaxEventsPerBatch);
  const bool filtered = s.since_nanos != 0 || s.until_nanos != 0 || !s.agency.empty();
  // A sealed event goes out as stored (the chain covers those bytes) with
  // its opened form beside it (EventBatch.opened).
  Status unreadable;
  auto take = [&](const eventlog::StoredEvent& ev) {
    int body = 0;
    bool sealed = false;
    BodyAndSealed(ev.bytes, &body, &sealed);
    if (s.body_mask != 0 && (body == 0 || ((s.body_mask >> body) & 1) == 0)) return true;
    v1::Event parsed;
    bool have = false;
    std::string opened;
    if (sealed && s.form != v1::READ_FORM_STORED) {
      bool changed = false;
      Status st = log_->OpenStored(ev.bytes, &parsed, &changed);
      if (!st.ok()) {
        unreadable = Status::Internal("event " + std::to_string(ev.seq) + " cannot be opened: " + st.ToString());
        return false;
      }
      have = true;
      if (changed) opened = parsed.SerializeAsString();
    }
    if (!all || filtered) {
      if (!have && !parsed.ParseFromString(ev.bytes)) return true;
      if (!all && !ledger_->Visible(agency, parsed, person)) return true;
      if (filtered && !PassesFilters(s, parsed)) return true;
    }
    if (s.form == v1::READ_FORM_OPENED && !opened.empty()) {
      batch->add_events(std::move(opened));
      batch->add_chain_hashes(ev.hash);
      return true;
    }
    batch->add_events(ev.bytes);
    batch->add_chain_hashes(ev.hash);
    if (!opened.empty()) {
      while (batch->opened_size() < batch->events_size() - 1) batch->add_opened();
      batch->add_opened(std::move(opened));
    }
    return true;
  };
  auto fail_unreadable = [&]() {
    spdlog::error("broker: read by {} stopped: {}", s.identity, unreadable.ToString());
    ReplyError(s.waiter, unreadable);
    return false;
  };

  if (s.indexed) {
    // Filtered reads walk an index: refreshed once the last list is used up.
    if (s.index_pos >= s.index_seqs.size() && s.next_seq <= limit) {
      Status st = s.referral_id.empty() ? log_->SeqsForDestination(s.destination, &s.index_seqs)
                                        : log_->SeqsForReferral(s.referral_id, &s.index_seqs);
      if (!st.ok()) {
        ReplyError(s.waiter, st);
        return false;
      }
      s.index_pos = std::lower_bound(s.index_seqs.begin(), s.index_seqs.end(), s.next_seq) - s.index_seqs.begin();
    }
    while (s.index_pos < s.index_seqs.size() && static_cast<uint64_t>(batch->events_size()) < max_events) {
      const uint64_t seq = s.index_seqs[s.index_pos];
      if (seq > limit) break;
      ++s.index_pos;
      eventlog::StoredEvent ev;
      Status st = log_->Get(seq, &ev);
      if (!st.ok()) {
        // The index names it, so it must be there: a gap is an error.
        ReplyError(s.waiter, st);
        return false;
      }
      v1::Event parsed;
      if (!s.destination.empty() && !s.referral_id.empty() &&
          (!parsed.ParseFromString(ev.bytes) || ReferralIdOf(parsed) != s.referral_id)) {
        continue;  // both filters: the destination index, checked against the referral
      }
      if (!take(ev)) return fail_unreadable();
      s.next_seq = seq + 1;
    }
    // Seqs past to_seq are never sent: once only those are left, the read is
    // done (without this, a to_seq read of a referral with later events
    // never ended).
    if (s.to_seq != 0 && s.index_pos < s.index_seqs.size() && s.index_seqs[s.index_pos] > s.to_seq) {
      s.index_pos = s.index_seqs.size();
    }
    if (s.index_pos >= s.index_seqs.size()) s.next_seq = std::max(s.next_seq, limit + 1);
  } else if (s.next_seq <= limit) {
    const uint64_t scan_to = std::min(limit, s.next_seq + kMaxScanPerTurn - 1);
    uint64_t last = s.next_seq - 1;
    Status st = log_->Scan(s.next_seq, scan_to, [&](const eventlog::StoredEvent& ev) {
      if (static_cast<uint64_t>(batch->events_size()) >= max_events) return false;
      if (!take(ev)) return false;
      last = ev.seq;
      return true;
    });
    if (!unreadable.ok()) return fail_unreadable();
    if (!st.ok()) {
      ReplyError(s.waiter, st);
      return false;
    }
    s.next_seq = last + 1;
  }

  const bool reached_end = s.next_seq > limit && (!s.indexed || s.index_pos >= s.index_seqs.size());
  const bool finished = reached_end && (!s.follow || (s.to_seq != 0 && s.next_seq > s.to_seq));
  if (batch->events_size() == 0 && !finished) return true;
  batch->set_head_seq(head);
  batch->set_scanned_to_seq(s.next_seq - 1);
  batch->set_end_of_log(finished);
  s.credit -= static_cast<uint64_t>(batch->events_size());
  metrics_.events_read += static_cast<uint64_t>(batch->events_size());
  if (!Reply(s.waiter, frame)) return false;
  return !finished;
}

}  // namespace refx::broker
