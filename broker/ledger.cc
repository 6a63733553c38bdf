// The broker's decisions (see ledger.h): taking referrals, lifecycle
// appends and their checks, the disclosed view of a delivery, and state
// lookups across the batch being built, the batch in flight and the log.
#include "broker/ledger.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "broker/case_lifecycle.h"
#include "core/event_util.h"
#include "core/log_escape.h"
#include "core/need_to_know.h"
#include "core/referral_validation.h"

namespace refx::broker {

namespace {

bool SameReferral(const v1::Referral& a, const v1::Referral& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

Status ConflictWith(uint64_t original_seq) {
  return Status::IdempotencyConflict("referrer_reference was already used by this agency for a different referral (" +
                                         ReferralIdForSeq(original_seq) + ", seq " + std::to_string(original_seq) +
                                         "); nothing was written — use a new reference",
                                     "referral.referrer_reference");
}

// Whether `repeat`, as a client sent it, asks for the same event as
// `first`, as staged or stored. The fields the broker sets are left out of
// the comparison: seq, time, actor, and all of a delivery but its case.
bool SameAppend(const v1::Event& first, const v1::Event& repeat) {
  v1::Event a = first, b = repeat;
  for (v1::Event* e : {&a, &b}) {
    e->clear_seq();
    e->clear_time();
    e->clear_actor();
    e->clear_person();
    if (e->has_case_delivered()) {
      v1::CaseDelivered kept;
      kept.set_referral_id(e->case_delivered().referral_id());
      kept.set_destination(e->case_delivered().destination());
      *e->mutable_case_delivered() = std::move(kept);
    }
  }
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

Status AppendConflictWith(uint64_t original_seq) {
  return Status::IdempotencyConflict("idempotency_key was already used by this identity for a different event (seq " +
                                         std::to_string(original_seq) + "); nothing was written — use a new key",
                                     "append.idempotency_key");
}

// Parses a record staged in a batch; a failure is the broker's own bug.
Status ParseStaged(const std::string& bytes, google::protobuf::Message* out) {
  if (out->ParseFromString(bytes)) return Status::OK();
  return Status::Corruption("a staged " + out->GetTypeName() + " does not parse");
}

Staged Refused(Status status, bool state_unreadable = false) {
  Staged staged;
  staged.status = std::move(status);
  staged.state_unreadable = state_unreadable;
  return staged;
}

// Submitted referrals stay in the arena they were decoded into and are
// attached to their event without a copy (TakeReferral). The arena owns
// them, so each event must let go of its referral before it is destroyed.
void DetachArenaReferrals(std::vector<eventlog::PendingEvent>& events) {
  for (eventlog::PendingEvent& pending : events) {
    if (!pending.event.has_referral_submitted()) continue;
    v1::ReferralSubmitted* submitted = pending.event.mutable_referral_submitted();
    if (submitted->has_referral() && submitted->referral().GetArena() != nullptr) {
      (void)submitted->unsafe_arena_release_referral();
    }
  }
}

}  // namespace

Status ReadEvent(const eventlog::EventLog& log, uint64_t seq, v1::Event* out) {
  eventlog::StoredEvent stored;
  REFX_RETURN_IF_ERROR(log.Get(seq, &stored));
  bool opened = false;
  return log.OpenStored(stored.bytes, out, &opened);
}

GroupCommit::~GroupCommit() { DetachArenaReferrals(events); }

google::protobuf::Timestamp EventTimeNow() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

Ledger::Ledger(const PartnershipConfig* config, const eventlog::EventLog* log)
    : config_(config),
      log_(log),
      building_(std::make_unique<GroupCommit>()),
      in_flight_(std::make_unique<GroupCommit>()),
      committed_head_(log->head_seq()) {
  SetConfig(config);
}

void Ledger::SetConfig(const PartnershipConfig* config) {
  config_ = config;
  owned_destinations_.clear();
  person_destinations_.clear();
  for (const auto& d : config_->proto().destinations()) owned_destinations_[d.agency_id()].insert(d.code());
  for (const auto& p : config_->proto().people()) {
    person_destinations_[p.id()].insert(p.destinations().begin(), p.destinations().end());
  }
}

Status Ledger::ActingFor(const v1::Agency& identity, const std::string& person_id, v1::Agency* acting,
                         const v1::StaffMember** person) const {
  if (!PartnershipConfig::HasRole(identity, v1::CONSOLE)) {
    return Status::PermissionDenied("on_behalf_of is accepted only from a CONSOLE identity; agency \"" + identity.id() +
                                    "\" is not one");
  }
  const v1::StaffMember* p = config_->PersonById(person_id);
  // The id comes from the client: named only when it is a configured person.
  if (p == nullptr) return Status::PermissionDenied("on_behalf_of names no configured person");
  if (p->disabled()) return Status::PermissionDenied("person \"" + p->id() + "\" is disabled and may not act");
  const v1::Agency* agency = config_->AgencyById(p->agency_id());
  if (agency == nullptr) return Status::PermissionDenied("person \"" + p->id() + "\" has no configured agency");
  acting->Clear();
  acting->set_id(agency->id());
  acting->set_name(agency->name());
  // Only the roles the person holds, and only where the agency holds them
  // too (the configuration checks that it does).
  if (PartnershipConfig::PersonHasRole(*p, v1::StaffMember::LEAD) && PartnershipConfig::HasRole(*agency, v1::LEAD)) {
    acting->add_roles(v1::LEAD);
  }
  if (PartnershipConfig::PersonHasRole(*p, v1::StaffMember::AUDITOR) &&
      PartnershipConfig::HasRole(*agency, v1::AUDITOR)) {
    acting->add_roles(v1::AUDITOR);
  }
  *person = p;
  return Status::OK();
}

const std::set<std::string>& Ledger::Worked(const v1::Agency& agency, const v1::StaffMember* person) const {
  static const std::set<std::string> kNone;
  if (person == nullptr) return OwnedBy(agency.id());
  auto it = person_destinations_.find(person->id());
  return it == person_destinations_.end() ? kNone : it->second;
}

Ledger::~Ledger() = default;

uint64_t Ledger::NextSeq() const {
  return committed_head_ + in_flight_->events.size() + building_->events.size() + 1;
}

bool Ledger::BeginCommit() {
  if (in_flight_active_ || building_->empty()) return false;
  opened_submission_id_.clear();
  in_flight_ = std::exchange(building_, std::make_unique<GroupCommit>());
  in_flight_active_ = true;
  return true;
}

std::unique_ptr<GroupCommit> Ledger::CommitSucceeded() {
  in_flight_active_ = false;
  opened_submission_id_.clear();
  std::unique_ptr<GroupCommit> done = std::exchange(in_flight_, std::make_unique<GroupCommit>());
  committed_head_ += done->events.size();
  return done;
}

std::pair<std::unique_ptr<GroupCommit>, std::unique_ptr<GroupCommit>> Ledger::CommitFailed() {
  in_flight_active_ = false;
  opened_submission_id_.clear();
  std::unique_ptr<GroupCommit> done = std::exchange(in_flight_, std::make_unique<GroupCommit>());
  std::unique_ptr<GroupCommit> built_on = std::exchange(building_, std::make_unique<GroupCommit>());
  committed_head_ = log_->head_seq();
  return {std::move(done), std::move(built_on)};
}

template <typename Same>
bool Ledger::FindRepeat(const std::string& key, const Same& same, Status (*conflict)(uint64_t), const char* kind,
                        const char* by, const std::string& who, Staged* out) const {
  for (GroupCommit* batch : {building_.get(), in_flight_.get()}) {
    auto it = batch->keys.find(key);
    if (it == batch->keys.end()) continue;
    const v1::Event& first = batch->events[it->second].event;
    if (!same(first)) {
      *out = Refused(conflict(first.seq()));
      return true;
    }
    out->referral_id = ReferralIdOf(first);
    out->seq = first.seq();
    out->duplicate = true;
    out->wait_list = &batch->waiters;
    out->pending_index = it->second;
    return true;
  }
  uint64_t original = 0;
  Status found = log_->FindDuplicate(key, &original);
  if (found.code() == Status::Code::kNotFound) return false;
  if (!found.ok()) {
    // Never "new" on an error: that could write the request twice.
    spdlog::error("broker: idempotency index unreadable for {} {}: {}", by, LogEscape(who), found.ToString());
    *out = Refused(Status::Internal("cannot read the idempotency index; nothing was written — retry"));
    return true;
  }
  v1::Event first;
  Status read = ReadEvent(*log_, original, &first);
  if (!read.ok()) {
    spdlog::error("broker: cannot read seq {}, the original of a repeated {}: {}", original, kind, read.ToString());
    *out = Refused(Status::Internal(std::string("cannot read the original of a repeated ") + kind + "; retry"));
    return true;
  }
  if (!same(first)) {
    *out = Refused(conflict(original));
    return true;
  }
  out->referral_id = ReferralIdOf(first);
  out->seq = original;
  out->duplicate = true;
  return true;
}

Staged Ledger::TakeReferral(const v1::Agency& submitter, v1::Referral* referral, const CivilDate& today) {
  const std::string& identity = submitter.id();
  Staged taken;
  Status s = ValidateReferral(*referral, today);
  if (!s.ok()) return Refused(std::move(s));
  if (referral->referrer().agency_id() != identity) {
    const std::string& named = referral->referrer().agency_id();
    return Refused(config_->AgencyById(named) != nullptr
                       ? Status::PermissionDenied("referrer.agency_id \"" + named +
                                                  "\" is not the authenticated agency \"" + identity + "\"")
                       : Status::UnknownAgency("referrer.agency_id \"" + named + "\" is not an agency of this partnership",
                                               "referral.referrer.agency_id"));
  }
  if (!PartnershipConfig::MaySubmit(submitter, referral->category())) {
    return Refused(Status::PermissionDenied("agency \"" + identity + "\" may not submit " +
                                            v1::Category_Name(referral->category()) + " referrals"));
  }

  std::string key = eventlog::EventLog::SubmissionKey(identity, referral->referrer_reference());
  // A repeat waits for (or is answered from) the first; the same reference
  // must mean the same referral: a different one under a reused reference
  // is refused, never silently dropped as a "duplicate".
  const auto same = [referral](const v1::Event& first) {
    return SameReferral(first.referral_submitted().referral(), *referral);
  };
  if (FindRepeat(key, same, ConflictWith, "referral", "a referral from", identity, &taken)) {
    if (taken.status.ok() && taken.wait_list == nullptr) {
      spdlog::debug("broker: duplicate of {} from {}", LogEscape(taken.referral_id), identity);
    }
    return taken;
  }

  eventlog::PendingEvent pending;
  const uint64_t seq = NextSeq();
  pending.event.set_seq(seq);
  *pending.event.mutable_time() = EventTimeNow();
  pending.event.set_actor(identity);
  auto* submitted = pending.event.mutable_referral_submitted();
  submitted->set_referral_id(ReferralIdForSeq(seq));
  // The frame is done with: take its referral instead of copying it. A
  // referral decoded into the loop's frame arena is attached as it is (the
  // batch keeps the arena and detaches it before the event is destroyed:
  // DetachArenaReferrals above).
  if (referral->GetArena() != nullptr) {
    submitted->unsafe_arena_set_allocated_referral(referral);
  } else {
    submitted->mutable_referral()->Swap(referral);
  }
  pending.dedupe_key = key;
  v1::ReferralRecord record;
  record.set_referral_id(submitted->referral_id());
  record.set_submitter(identity);
  StageState(&pending, eventlog::EventLog::ReferralStateKey(record.referral_id()), record);
  building_->keys.emplace(std::move(key), building_->events.size());
  taken.referral_id = submitted->referral_id();
  taken.seq = seq;
  taken.wait_list = &building_->waiters;
  taken.pending_index = building_->events.size();
  building_->events.push_back(std::move(pending));
  return taken;
}

Status Ledger::CheckPersonAppend(const v1::StaffMember& person, const v1::Agency& actor,
                                 const v1::Event& event) const {
  switch (event.body_case()) {
    case v1::Event::kCaseAcknowledged:
    case v1::Event::kCaseAccepted:
    case v1::Event::kCaseDeclined:
    case v1::Event::kOutcomeRecorded:
    case v1::Event::kCaseClosed:
    case v1::Event::kCaseAssigned:
      break;
    case v1::Event::kAccountActivity:
      return Status::OK();
    default:
      return Status::PermissionDenied("a person may not append " + std::string(EventTypeName(event)) +
                                      " through the console");
  }
  if (!PartnershipConfig::PersonHasRole(person, v1::StaffMember::LEAD)) {
    return Status::PermissionDenied("person \"" + person.id() + "\" is not a LEAD and may not act on cases");
  }
  const std::string& destination = DestinationOf(event);
  if (!Worked(actor, &person).count(destination)) {
    return Status::PermissionDenied("person \"" + person.id() + "\" does not work destination \"" + destination +
                                    "\"");
  }
  return Status::OK();
}

Staged Ledger::StageAccountActivity(const v1::Agency& actor, const v1::StaffMember* person, v1::Event event,
                                    std::string key) {
  const bool console = person != nullptr || PartnershipConfig::HasRole(actor, v1::CONSOLE);
  if (!console) return Refused(Status::PermissionDenied("account_activity events come only from a CONSOLE identity"));
  const v1::AccountActivity& activity = event.account_activity();
  if (activity.kind() == v1::AccountActivity::KIND_UNSPECIFIED) {
    return Refused(Status::InvalidArgument("is required", "append.event.account_activity.kind"));
  }
  // Never a free-typed user name (it could be a password typed in the wrong
  // field): a configured person or "unknown".
  if (activity.account() != "unknown" && config_->PersonById(activity.account()) == nullptr) {
    return Refused(Status::InvalidArgument("must be a configured person id or \"unknown\"",
                                           "append.event.account_activity.account"));
  }
  eventlog::PendingEvent pending;
  pending.event = std::move(event);
  return StagePending(std::move(pending), std::move(key));
}

Staged Ledger::StagePending(eventlog::PendingEvent pending, std::string key) {
  Staged staged;
  staged.referral_id = ReferralIdOf(pending.event);
  staged.seq = pending.event.seq();
  if (!key.empty()) {
    pending.dedupe_key = key;
    building_->keys.emplace(std::move(key), building_->events.size());
  }
  staged.wait_list = &building_->waiters;
  staged.pending_index = building_->events.size();
  building_->events.push_back(std::move(pending));
  return staged;
}

Staged Ledger::Append(const v1::Agency& actor, const v1::AppendRequest& request, const v1::StaffMember* person) {
  Staged staged;
  if (person != nullptr) {
    Status allowed = CheckPersonAppend(*person, actor, request.event());
    if (!allowed.ok()) return Refused(std::move(allowed));
  }
  std::string key;
  const v1::Event::BodyCase body = request.event().body_case();
  if (request.idempotency_key().empty() &&
      (body == v1::Event::kCaseReceivedBySystem || body == v1::Event::kCaseTransferFailed)) {
    // A receipt is recorded once per attempt and receiver, so its sender
    // must be able to repeat it safely after a lost answer.
    return Refused(Status::InvalidArgument(std::string("is required for ") + EventTypeName(request.event()),
                                           "append.idempotency_key"));
  }
  if (!request.idempotency_key().empty()) {
    // A person's keys are their own: (agency/person, key).
    key = eventlog::EventLog::AppendKey(person ? actor.id() + "/" + person->id() : actor.id(),
                                        request.idempotency_key());
    // A repeat waits for (or is answered from) the first; a different event
    // under the same key is refused.
    const auto same = [&request](const v1::Event& first) { return SameAppend(first, request.event()); };
    if (FindRepeat(key, same, AppendConflictWith, "append", "an append by", actor.id(), &staged)) return staged;
  }

  eventlog::PendingEvent pending;
  v1::Event& event = pending.event;
  event = request.event();
  event.set_seq(NextSeq());
  *event.mutable_time() = EventTimeNow();
  event.set_actor(actor.id());
  // Never taken from the client's event: only a checked on_behalf_of.
  event.set_person(person ? person->id() : std::string());
  if (event.has_account_activity()) return StageAccountActivity(actor, person, std::move(event), std::move(key));

  const std::string& referral_id = ReferralIdOf(event);
  const std::string& destination = DestinationOf(event);
  v1::ReferralRecord referral, referral_next;
  v1::CaseRecord current, next;
  LifecycleContext ctx;
  // Absent state is for CheckTransition to judge; an unreadable one refuses.
  if (!referral_id.empty()) {
    Status s = LoadReferral(referral_id, &referral);
    if (s.ok()) {
      ctx.referral = &referral;
    } else if (s.code() != Status::Code::kNotFound) {
      return Refused(std::move(s), /*state_unreadable=*/true);
    }
  }
  if (!destination.empty() && ctx.referral) {
    Status s = LoadCase(referral_id, destination, &current);
    if (s.ok()) {
      ctx.current = &current;
    } else if (s.code() != Status::Code::kNotFound) {
      return Refused(std::move(s), /*state_unreadable=*/true);
    }
  }
  bool referral_changed = false;
  Status s = CheckTransition(event, actor, *config_, ctx, &next, &referral_next, &referral_changed);
  if (!s.ok()) return Refused(std::move(s));

  if (event.has_case_routed()) {
    next.set_reason(event.case_routed().reason());
  }
  if (event.has_case_delivered()) {
    s = Disclose(current, next, &event);
    if (!s.ok()) return Refused(std::move(s));
  }

  // Every open case of a withdrawn referral is withdrawn with it. All are
  // read before anything is staged, so a read error leaves no trace.
  std::vector<std::pair<std::string, v1::CaseRecord>> withdrawn;
  if (referral_changed && event.has_referral_withdrawn()) {
    for (const std::string& d : referral_next.destinations()) {
      v1::CaseRecord c;
      Status loaded = LoadCase(referral_id, d, &c);
      if (loaded.code() == Status::Code::kNotFound) continue;
      if (!loaded.ok()) return Refused(std::move(loaded), /*state_unreadable=*/true);
      if (c.state() == v1::CLOSED || c.state() == v1::DECLINED || c.state() == v1::UNDELIVERABLE) continue;
      c.set_state(v1::WITHDRAWN);
      c.set_version(event.seq());
      withdrawn.emplace_back(d, std::move(c));
    }
  }
  if (!destination.empty()) StageState(&pending, eventlog::EventLog::CaseStateKey(referral_id, destination), next);
  if (referral_changed) StageState(&pending, eventlog::EventLog::ReferralStateKey(referral_id), referral_next);
  for (const auto& [d, c] : withdrawn) StageState(&pending, eventlog::EventLog::CaseStateKey(referral_id, d), c);
  spdlog::debug("broker: {} {}/{} by {} as seq {}", EventTypeName(event), LogEscape(referral_id),
                LogEscape(destination), actor.id(), event.seq());
  return StagePending(std::move(pending), std::move(key));
}

Status Ledger::Disclose(const v1::CaseRecord& current, const v1::CaseRecord& next, v1::Event* event) const {
  auto* delivered = event->mutable_case_delivered();
  // CheckTransition has accepted the delivery, so the destination exists.
  const v1::Destination& dest = *config_->DestinationByCode(delivered->destination());
  v1::Referral submitted;
  REFX_RETURN_IF_ERROR(LoadSubmission(delivered->referral_id(), &submitted));
  std::set<v1::FieldGroup> groups = {v1::ENVELOPE};
  for (int g : dest.need_to_know()) groups.insert(static_cast<v1::FieldGroup>(g));
  delivered->set_recipient_agency(dest.agency_id());
  delivered->clear_disclosed_groups();
  for (v1::FieldGroup g : groups) delivered->add_disclosed_groups(g);
  delivered->set_purpose(dest.purpose());
  delivered->set_rule_id(current.rule_id());
  delivered->set_reason(current.reason());
  *delivered->mutable_deadline() = current.deadline();
  delivered->set_attempt(next.deliveries());
  *delivered->mutable_view() = NeedToKnowView(submitted, groups);
  return Status::OK();
}

uint64_t Ledger::StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                             const std::string& referral_id, const v1::StaffMember* person) {
  std::vector<std::string> ids;
  if (!referral_id.empty()) ids.push_back(referral_id);
  return StageAccess(actor, what, purpose, ids, person);
}

uint64_t Ledger::StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                             const std::vector<std::string>& referral_ids, const v1::StaffMember* person) {
  eventlog::PendingEvent pending;
  const uint64_t seq = NextSeq();
  pending.event.set_seq(seq);
  *pending.event.mutable_time() = EventTimeNow();
  pending.event.set_actor(actor.id());
  if (person != nullptr) pending.event.set_person(person->id());
  v1::RecordAccessed* accessed = pending.event.mutable_record_accessed();
  accessed->set_what(what);
  accessed->set_purpose(purpose);
  for (const std::string& id : referral_ids) accessed->add_referral_ids(id);
  building_->events.push_back(std::move(pending));
  return seq;
}

uint64_t Ledger::StageBrokerEvent(const v1::Agency& actor, v1::Event event, const std::string& erase_data_key,
                                  const std::string& erase_history_key) {
  eventlog::PendingEvent pending;
  const uint64_t seq = NextSeq();
  event.set_seq(seq);
  *event.mutable_time() = EventTimeNow();
  event.set_actor(actor.id());
  pending.event = std::move(event);
  pending.erase_data_key = erase_data_key;
  pending.erase_history_key = erase_history_key;
  building_->events.push_back(std::move(pending));
  return seq;
}

// State lookups see the batch being built, then the batch being written,
// then the log.
const std::string* Ledger::StagedState(const std::string& key) const {
  if (auto it = building_->state.find(key); it != building_->state.end()) return &it->second;
  if (auto it = in_flight_->state.find(key); it != in_flight_->state.end()) return &it->second;
  return nullptr;
}

void Ledger::StageState(eventlog::PendingEvent* pending, const std::string& key,
                        const google::protobuf::Message& value) {
  std::string bytes = value.SerializeAsString();
  building_->state[key] = bytes;
  pending->state_puts.emplace_back(key, std::move(bytes));
}

Status Ledger::LoadReferral(const std::string& referral_id, v1::ReferralRecord* out) const {
  if (const std::string* staged = StagedState(eventlog::EventLog::ReferralStateKey(referral_id))) {
    return ParseStaged(*staged, out);
  }
  return log_->GetReferralRecord(referral_id, out);
}

Status Ledger::LoadCase(const std::string& referral_id, const std::string& destination, v1::CaseRecord* out) const {
  if (const std::string* staged = StagedState(eventlog::EventLog::CaseStateKey(referral_id, destination))) {
    return ParseStaged(*staged, out);
  }
  return log_->GetCaseRecord(referral_id, destination, out);
}

Status Ledger::LoadSubmission(const std::string& referral_id, v1::Referral* out) const {
  uint64_t seq = 0;
  if (!SeqForReferralId(referral_id, &seq)) return Status::NotFound("no referral " + referral_id);
  // A referral submitted in the batch being written or built is not in the
  // log yet.
  if (seq > committed_head_) {
    size_t index = seq - committed_head_ - 1;
    const std::vector<eventlog::PendingEvent>* batch = &in_flight_->events;
    if (index >= batch->size()) {
      index -= batch->size();
      batch = &building_->events;
    }
    if (index < batch->size() && (*batch)[index].event.has_referral_submitted()) {
      *out = (*batch)[index].event.referral_submitted().referral();
      return Status::OK();
    }
    return Status::NotFound("no referral " + referral_id);
  }
  if (!opened_submission_id_.empty() && opened_submission_id_ == referral_id) {
    *out = opened_submission_;
    return Status::OK();
  }
  eventlog::StoredEvent stored;
  REFX_RETURN_IF_ERROR(log_->Get(seq, &stored));
  v1::Event event;
  bool opened = false;
  Status s = log_->OpenStored(stored.bytes, &event, &opened);
  if (s.code() == Status::Code::kCorruption && !event.has_sealed()) return Status::NotFound("no referral " + referral_id);
  REFX_RETURN_IF_ERROR(s);
  if (!event.has_referral_submitted()) return Status::NotFound("no referral " + referral_id);
  *out = event.referral_submitted().referral();
  opened_submission_ = *out;
  opened_submission_id_ = referral_id;
  return Status::OK();
}

bool Ledger::MaySeeAll(const v1::Agency& agency) {
  return PartnershipConfig::HasRole(agency, v1::SERVICE) || PartnershipConfig::HasRole(agency, v1::AUDITOR);
}

const std::set<std::string>& Ledger::OwnedBy(const std::string& agency_id) const {
  static const std::set<std::string> kNone;
  auto it = owned_destinations_.find(agency_id);
  return it == owned_destinations_.end() ? kNone : it->second;
}

bool Ledger::Visible(const v1::Agency& agency, const v1::Event& event, const v1::StaffMember* person) const {
  const std::set<std::string>& owned = Worked(agency, person);
  const std::string& destination = DestinationOf(event);
  if (!destination.empty()) return owned.count(destination) > 0;
  if (event.has_referral_withdrawn()) {
    v1::ReferralRecord referral;
    Status s = LoadReferral(event.referral_withdrawn().referral_id(), &referral);
    if (!s.ok()) {
      // Not shown when its referral cannot be read: never disclose on doubt.
      if (s.code() != Status::Code::kNotFound) {
        spdlog::error("broker: withdrawal at seq {} withheld from {}: {}", event.seq(), agency.id(), s.ToString());
      }
      return false;
    }
    return std::any_of(referral.destinations().begin(), referral.destinations().end(),
                       [&](const std::string& d) { return owned.count(d) > 0; });
  }
  return false;  // raw submissions and other referral-wide events: services and auditors only
}

}  // namespace refx::broker
