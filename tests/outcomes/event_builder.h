// Builds hand-made event sequences for the outcomes unit tests: each call
// appends one event with the next seq, a given time and actor. Synthetic
// data only. Header-only test support; not thread-safe.
#pragma once

#include <google/protobuf/util/time_util.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_util.h"
#include "refx/v1/event.pb.h"

namespace refx::testing {

class EventLogBuilder {
 public:
  // Times are "YYYY-MM-DDTHH:MM:SSZ".
  std::string Submit(const std::string& time, const std::string& agency, const std::string& given,
                     const std::string& family, const std::string& dob) {
    v1::Event& e = Next(time, agency);
    auto* s = e.mutable_referral_submitted();
    s->set_referral_id(ReferralIdForSeq(e.seq()));
    v1::Referral* r = s->mutable_referral();
    r->set_referrer_reference("ref-" + std::to_string(e.seq()));
    r->mutable_referrer()->set_agency_id(agency);
    if (!given.empty() || !dob.empty()) {
      r->mutable_person()->set_given_name(given);
      r->mutable_person()->set_family_name(family);
      r->mutable_person()->set_date_of_birth(dob);
    }
    return s->referral_id();
  }
  std::string SubmitContext(const std::string& time, const std::string& agency, const std::string& place) {
    v1::Event& e = Next(time, agency);
    auto* s = e.mutable_referral_submitted();
    s->set_referral_id(ReferralIdForSeq(e.seq()));
    s->mutable_referral()->mutable_referrer()->set_agency_id(agency);
    s->mutable_referral()->mutable_context()->set_name(place);
    return s->referral_id();
  }
  void Route(const std::string& time, const std::string& ref, const std::string& dest, const std::string& deadline) {
    auto* b = Next(time, "refx-router").mutable_case_routed();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_rule_id("R_TEST");
    if (!deadline.empty()) *b->mutable_deadline() = T(deadline);
  }
  void Deliver(const std::string& time, const std::string& ref, const std::string& dest, uint32_t attempt = 1) {
    auto* b = Next(time, "refx-delivery").mutable_case_delivered();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_attempt(attempt);
  }
  void Acknowledge(const std::string& time, const std::string& ref, const std::string& dest) {
    auto* b = Next(time, "lead").mutable_case_acknowledged();
    b->set_referral_id(ref);
    b->set_destination(dest);
  }
  void Accept(const std::string& time, const std::string& ref, const std::string& dest) {
    auto* b = Next(time, "lead").mutable_case_accepted();
    b->set_referral_id(ref);
    b->set_destination(dest);
  }
  void Decline(const std::string& time, const std::string& ref, const std::string& dest, const std::string& reason) {
    auto* b = Next(time, "lead").mutable_case_declined();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_reason(reason);
  }
  void Outcome(const std::string& time, const std::string& ref, const std::string& dest, const std::string& code) {
    auto* b = Next(time, "lead").mutable_outcome_recorded();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_code(code);
  }
  void Close(const std::string& time, const std::string& ref, const std::string& dest) {
    auto* b = Next(time, "lead").mutable_case_closed();
    b->set_referral_id(ref);
    b->set_destination(dest);
  }
  void Breach(const std::string& time, const std::string& ref, const std::string& dest, const std::string& deadline,
              const std::string& actor = "refx-outcomes") {
    auto* b = Next(time, actor).mutable_deadline_breached();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_deadline_kind("acknowledge");
    *b->mutable_deadline() = T(deadline);
  }
  void Escalate(const std::string& time, const std::string& ref, const std::string& dest, const std::string& to,
                const std::string& actor = "refx-outcomes") {
    auto* b = Next(time, actor).mutable_case_escalated();
    b->set_referral_id(ref);
    b->set_destination(dest);
    b->set_escalated_to(to);
    b->set_reason("test");
  }
  void Withdraw(const std::string& time, const std::string& ref, const std::string& agency) {
    auto* b = Next(time, agency).mutable_referral_withdrawn();
    b->set_referral_id(ref);
    b->set_reason("test");
  }
  void Erase(const std::string& time, const std::string& ref) {
    auto* b = Next(time, "refx-admin").mutable_subject_erased();
    b->set_referral_id(ref);
    b->set_reason("test");
  }

  const std::vector<v1::Event>& events() const { return events_; }

  static google::protobuf::Timestamp T(const std::string& text) {
    google::protobuf::Timestamp t;
    if (!google::protobuf::util::TimeUtil::FromString(text, &t)) std::abort();
    return t;
  }
  static int64_t Micros(const std::string& text) {
    return google::protobuf::util::TimeUtil::TimestampToMicroseconds(T(text));
  }

 private:
  v1::Event& Next(const std::string& time, const std::string& actor) {
    events_.emplace_back();
    v1::Event& e = events_.back();
    e.set_seq(events_.size());
    *e.mutable_time() = T(time);
    e.set_actor(actor);
    return e;
  }

  std::vector<v1::Event> events_;
};

}  // namespace refx::testing
