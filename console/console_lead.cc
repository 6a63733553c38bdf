// The lead's pages: the inbox (with its live updates) and the case page
// with its actions.
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <google/protobuf/util/time_util.h>

#include "console/console_impl.h"
#include "core/event_util.h"
#include "core/hex.h"
#include "domain/monitoring/case_fold.h"
#include "render/fields.h"
#include "render/format.h"

namespace refx::console {

namespace {

using google::protobuf::util::TimeUtil;

int64_t Seconds(const google::protobuf::Timestamp& t) { return t.seconds(); }

// How near the deadline is, for the row's colour and its words (never
// colour alone).
void Urgency(const v1::CaseRecord& c, int64_t now, render::Data* row) {
  const bool open = outcomes::IsOpenState(c.state());
  const bool awaiting = outcomes::AwaitsAcknowledgement(c.state());
  const int64_t deadline = c.has_deadline() ? Seconds(c.deadline()) : 0;
  std::string cls = "due-none", words = "—";
  if (c.deadline_breached() || (awaiting && deadline > 0 && deadline <= now)) {
    cls = "due-breached";
    words = "Deadline passed";
  } else if (awaiting && deadline > 0) {
    const double hours = static_cast<double>(deadline - now) / 3600.0;
    words = render::HoursMinutes(hours) + " left";
    cls = hours < 4 ? "due-soon" : hours < 24 ? "due-today" : "due-later";
  } else if (!open) {
    words = "Finished";
  } else if (deadline > 0) {
    words = "Acknowledged in time";
  }
  row->set("urgency", cls);
  row->set("time_left", words);
  row->set("breached", c.deadline_breached());
  row->set("deadline_at", deadline > 0 ? render::LondonTime(deadline) : "—");
  row->set("deadline_sort", std::to_string(deadline > 0 ? deadline : INT64_MAX));
}

std::string CaseLink(const std::string& referral, const std::string& destination) {
  return "/case?referral=" + httplib::detail::encode_query_param(referral) +
         "&destination=" + httplib::detail::encode_query_param(destination);
}

// The case actions as the CLI builds them, with the same idempotency keys
// (a repeated form is answered as already done).
Status BuildAction(const httplib::Request& req, const std::string& referral, const std::string& destination,
                   v1::Event* event, std::string* key, std::string* done) {
  const std::string action = Param(req, "action");
  const std::string suffix = referral + ":" + destination;
  auto hash = [](const std::string& text) {
    unsigned char digest[8];
    crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                       nullptr, 0);
    return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  };
  if (action == "ack") {
    event->mutable_case_acknowledged()->set_referral_id(referral);
    event->mutable_case_acknowledged()->set_destination(destination);
    *key = "ack:" + suffix;
    *done = "Acknowledged";
  } else if (action == "accept") {
    event->mutable_case_accepted()->set_referral_id(referral);
    event->mutable_case_accepted()->set_destination(destination);
    event->mutable_case_accepted()->set_note(Param(req, "note"));
    *key = "accept:" + suffix;
    *done = "Accepted";
  } else if (action == "decline") {
    const std::string reason = Param(req, "reason");
    if (reason.empty()) return Status::InvalidArgument("a decline needs a reason", "reason");
    event->mutable_case_declined()->set_referral_id(referral);
    event->mutable_case_declined()->set_destination(destination);
    event->mutable_case_declined()->set_reason(reason);
    *key = "decline:" + suffix + ":" + hash(reason);
    *done = "Declined";
  } else if (action == "outcome") {
    const std::string code = Param(req, "code"), note = Param(req, "note");
    if (code.empty()) return Status::InvalidArgument("choose an outcome code", "code");
    event->mutable_outcome_recorded()->set_referral_id(referral);
    event->mutable_outcome_recorded()->set_destination(destination);
    event->mutable_outcome_recorded()->set_code(code);
    event->mutable_outcome_recorded()->set_note(note);
    *key = "outcome:" + suffix + ":" + hash(code + std::string(1, '\0') + note);
    *done = "Outcome " + code + " recorded";
  } else if (action == "assign") {
    const std::string assignee = Param(req, "assignee");
    if (assignee.empty()) return Status::InvalidArgument("choose a colleague", "assignee");
    auto* a = event->mutable_case_assigned();
    a->set_referral_id(referral);
    a->set_destination(destination);
    a->set_assignee(assignee);
    a->set_previous_assignee(Param(req, "previous"));
    a->set_note(Param(req, "note"));
    *key = "assign:" + suffix + ":" + assignee + ":" + Param(req, "previous");
    *done = "Assigned to " + assignee;
  } else {
    return Status::InvalidArgument("unknown action \"" + action + "\"", "action");
  }
  return Status::OK();
}

// One line of a case's history: what happened, without the referral itself.
render::Data HistoryRow(const v1::Event& e) {
  render::Data row = EventRow(e);
  std::string detail;
  switch (e.body_case()) {
    case v1::Event::kCaseRouted: detail = "rule " + e.case_routed().rule_id() + ": " + e.case_routed().reason(); break;
    case v1::Event::kCaseDelivered: detail = "attempt " + std::to_string(e.case_delivered().attempt()); break;
    case v1::Event::kCaseAccepted: detail = e.case_accepted().note(); break;
    case v1::Event::kCaseDeclined: detail = "reason: " + e.case_declined().reason(); break;
    case v1::Event::kOutcomeRecorded:
      detail = e.outcome_recorded().code() +
               (e.outcome_recorded().note().empty() ? "" : ": " + e.outcome_recorded().note());
      break;
    case v1::Event::kCaseAssigned:
      detail = "to " + e.case_assigned().assignee() +
               (e.case_assigned().previous_assignee().empty() ? "" : " from " + e.case_assigned().previous_assignee());
      break;
    case v1::Event::kDeadlineBreached: detail = e.deadline_breached().deadline_kind() + " deadline"; break;
    case v1::Event::kCaseEscalated: detail = "to " + e.case_escalated().escalated_to(); break;
    case v1::Event::kCaseUndeliverable: detail = e.case_undeliverable().reason(); break;
    case v1::Event::kReferralWithdrawn: detail = e.referral_withdrawn().reason(); break;
    case v1::Event::kRecordAccessed: detail = e.record_accessed().what(); break;
    case v1::Event::kCaseReceivedBySystem: detail = "by " + e.case_received_by_system().receiver(); break;
    case v1::Event::kCaseTransferFailed: detail = e.case_transfer_failed().reason(); break;
    default: break;
  }
  row.set("detail", detail);
  return row;
}

}  // namespace

render::Data EventRow(const v1::Event& e) {
  render::Data row;
  row.set("seq", std::to_string(e.seq()));
  row.set("time", render::LondonTime(e.time().seconds()));
  row.set("actor", e.actor());
  row.set("person", e.person().empty() ? "—" : e.person());
  row.set("what", render::Humanise(EventTypeName(e)));
  return row;
}

void Console::Impl::AddLeadRoutes() {
  auto& s = server();

  // The inbox rows for the caller (the table body, also sent alone to the
  // page's script when something changed).
  auto rows = [this](const Caller& caller, const httplib::Request& req, render::Data* d, Status* status) {
    const std::string state = Param(req, "state").empty() ? "open" : Param(req, "state");
    const std::string only = Param(req, "destination"), sort = Param(req, "sort");
    std::vector<v1::CaseRecord> cases;
    auto client = BrokerFor(caller.person.id());
    for (const auto& dest : caller.person.destinations()) {
      if (!only.empty() && only != dest) continue;
      v1::QueryRequest q;
      q.set_destination(dest);
      v1::QueryResult result;
      Status st = client->Query(q, &result);
      if (!st.ok()) {
        *status = st;
        return;
      }
      for (const auto& c : result.cases()) {
        if (state == "open" && !outcomes::IsOpenState(c.state())) continue;
        if (state != "open" && state != "all" && v1::CaseState_Name(c.state()) != state) continue;
        cases.push_back(c);
      }
    }
    auto deadline = [](const v1::CaseRecord& c) { return c.has_deadline() ? c.deadline().seconds() : INT64_MAX; };
    std::stable_sort(cases.begin(), cases.end(), [&](const v1::CaseRecord& a, const v1::CaseRecord& b) {
      if (sort == "routed") return a.routed_at().seconds() > b.routed_at().seconds();
      if (sort == "state") return a.state() < b.state();
      if (a.deadline_breached() != b.deadline_breached()) return a.deadline_breached();
      return deadline(a) < deadline(b);
    });
    const int64_t now = Now();
    std::vector<render::Data> list;
    int breached = 0;
    for (const auto& c : cases) {
      render::Data row;
      row.set("referral_id", c.referral_id());
      row.set("destination", c.destination());
      row.set("state", StateWords(c.state()));
      row.set("routed_at", render::LondonTime(c.routed_at().seconds()));
      row.set("link", CaseLink(c.referral_id(), c.destination()));
      Urgency(c, now, &row);
      if (c.deadline_breached()) ++breached;
      list.push_back(row);
    }
    d->set("rows", render::List(list));
    d->set("count", std::to_string(list.size()));
    d->set("breached_count", std::to_string(breached));
    d->set("none", list.empty());
    *status = Status::OK();
  };

  s.Get("/inbox", [this, rows](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::LEAD, res)) return;
    render::Data d = PageData(&caller, "Inbox");
    Status st;
    rows(caller, req, &d, &st);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Inbox unavailable", st.message());
      return;
    }
    const std::string state = Param(req, "state").empty() ? "open" : Param(req, "state");
    std::vector<render::Data> states, dests, sorts;
    for (const std::string& v : {std::string("open"), std::string("all"), std::string("DELIVERED"),
                                 std::string("ACKNOWLEDGED"), std::string("ACCEPTED"), std::string("OUTCOME_RECORDED"),
                                 std::string("DECLINED"), std::string("CLOSED")}) {
      render::Data o;
      o.set("value", v);
      v1::CaseState cs;
      o.set("label", v == "open" ? "Open cases" : v == "all" ? "All cases"
                     : v1::CaseState_Parse(v, &cs) ? StateWords(cs) : v);
      o.set("selected", v == state);
      states.push_back(o);
    }
    for (const auto& dest : caller.person.destinations()) {
      render::Data o;
      o.set("value", dest);
      o.set("label", dest);
      o.set("selected", dest == Param(req, "destination"));
      dests.push_back(o);
    }
    for (const auto& [v, l] : std::vector<std::pair<std::string, std::string>>{
             {"deadline", "Deadline (nearest first)"}, {"routed", "Newest first"}, {"state", "State"}}) {
      render::Data o;
      o.set("value", v);
      o.set("label", l);
      o.set("selected", v == Param(req, "sort"));
      sorts.push_back(o);
    }
    d.set("states", render::List(states));
    d.set("destinations", render::List(dests));
    d.set("sorts", render::List(sorts));
    d.set("query", req.params.empty() ? "" : "?" + httplib::detail::params_to_query_str(req.params));
    Page(res, "console_inbox", d);
  });

  s.Get("/inbox/rows", [this, rows](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::LEAD, res)) return;
    render::Data d;
    Status st;
    rows(caller, req, &d, &st);
    if (!st.ok()) {
      res.status = HttpStatusFor(st);
      res.set_content("", "text/plain");
      return;
    }
    Page(res, "console_inbox_rows", d);
  });

  // Server-sent events: "case" whenever an event at one of the caller's
  // destinations is appended, fed by a follow read on the person's behalf.
  s.Get("/inbox/events", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::LEAD, res)) return;
    const std::string person = caller.person.id();
    if (!TakeStream(person)) {
      res.status = 429;
      res.set_header("Retry-After", "30");
      res.set_content("too many live-update streams open", "text/plain");
      return;
    }
    const std::string session_id = caller.session.id;
    const std::vector<std::string> dests(caller.person.destinations().begin(), caller.person.destinations().end());
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, person, session_id, dests](size_t, httplib::DataSink& sink) {
          auto client = BrokerFor(person, 3000);
          // Start from the head: only what happens from now on is news.
          v1::Frame hb, reply;
          hb.mutable_heartbeat();
          uint64_t head = 0;
          if (client->Call(hb, &reply).ok() && reply.has_heartbeat()) head = reply.heartbeat().head_seq();
          std::string hello = "retry: 3000\nevent: ready\ndata: {\"head\":" + std::to_string(head) + "}\n\n";
          if (!sink.write(hello.data(), hello.size())) return false;
          v1::ReadRequest r;
          r.set_after_seq(head);
          r.set_follow(true);
          r.set_initial_credit(500);
          auto last_ping = std::chrono::steady_clock::now();
          bool broken = false;
          Status st = client->Read(
              r,
              [&](const v1::Event& e, const std::string&, const std::string&) {
                const std::string& dest = DestinationOf(e);
                if (std::find(dests.begin(), dests.end(), dest) == dests.end()) return true;
                std::string msg = "event: case\ndata: {\"referral_id\":\"" + ReferralIdOf(e) +
                                  "\",\"destination\":\"" + dest + "\",\"seq\":" + std::to_string(e.seq()) +
                                  ",\"what\":\"" + EventTypeName(e) + "\"}\n\n";
                if (!sink.write(msg.data(), msg.size())) broken = true;
                return !broken;
              },
              [&] {
                if (broken || stopping() || !sink.is_writable()) return true;
                if (std::chrono::steady_clock::now() - last_ping > std::chrono::seconds(15)) {
                  last_ping = std::chrono::steady_clock::now();
                  if (!sessions_.Check(session_id, Now()).ok()) return true;  // signed out or expired
                  static const char kPing[] = ": ping\n\n";
                  if (!sink.write(kPing, sizeof kPing - 1)) return true;
                }
                return false;
              });
          if (!st.ok()) spdlog::warn("console: live-update read ended: {}", st.ToString());
          sink.done();
          return true;
        },
        [this, person](bool) { ReleaseStream(person); });
  });

  // The case page: this destination's need-to-know view, its history, the actions.
  s.Get("/case", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::LEAD, res)) return;
    const std::string referral = Param(req, "referral"), dest = Param(req, "destination");
    if (!caller.Works(dest)) {
      Message(res, &caller, 403, "Not your destination",
              "You do not work cases at " + (dest.empty() ? std::string("that destination") : dest) +
                  ": only the people of a destination see its cases.");
      return;
    }
    auto client = BrokerFor(caller.person.id());
    // Opening a case is recorded: a person's query with a purpose is
    // written as record_accessed (who viewed what, when) before the answer.
    v1::QueryRequest q;
    q.set_referral_id(referral);
    q.set_destination(dest);
    q.set_purpose("opening case " + referral + " at " + dest + " in the console");
    v1::QueryResult result;
    Status st = client->Query(q, &result);
    const v1::CaseRecord* record = nullptr;
    for (const auto& c : result.cases()) {
      if (c.destination() == dest) record = &c;
    }
    if (st.ok() && record == nullptr) st = Status::NotFound(referral + " has no case at " + dest);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Case not available", st.message());
      return;
    }
    v1::ReadRequest r;
    r.set_referral_id(referral);
    r.set_destination(dest);
    std::vector<render::Data> history;
    const v1::CaseDelivered* view = nullptr;
    v1::CaseDelivered delivered;
    std::string assignee;
    st = client->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      if (e.has_case_delivered() && e.case_delivered().destination() == dest) {
        delivered = e.case_delivered();
        view = &delivered;
      }
      if (e.has_case_assigned() && e.case_assigned().destination() == dest) assignee = e.case_assigned().assignee();
      history.push_back(HistoryRow(e));
      return true;
    });
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Case history not available", st.message());
      return;
    }
    render::Data d = PageData(&caller, "Case " + referral + " at " + dest);
    d.set("referral_id", referral);
    d.set("destination", dest);
    const v1::Destination* destination = caller.config->DestinationByCode(dest);
    d.set("destination_name", destination ? destination->name() : dest);
    d.set("state", StateWords(record->state()));
    d.set("rule", record->rule_id());
    d.set("reason", record->reason());
    if (!record->last_outcome().empty()) d.set("last_outcome", record->last_outcome());
    if (!record->assignee().empty()) assignee = record->assignee();
    d.set("assignee", assignee.empty() ? "nobody yet" : assignee);
    d.set("previous", assignee);
    Urgency(*record, Now(), &d);
    if (view != nullptr) {
      d.set("has_view", true);
      d.set("purpose", view->purpose());
      d.set("groups", render::FieldGroupsData(render::LabelledFields(view->view(), "Referral")));
    }
    d.set("history", render::List(history));
    const v1::CaseState cs = record->state();
    d.set("can_ack", cs == v1::ROUTED || cs == v1::DELIVERED);
    d.set("can_decide", cs == v1::ACKNOWLEDGED);
    d.set("can_outcome", cs == v1::ACCEPTED || cs == v1::OUTCOME_RECORDED);
    d.set("can_assign", outcomes::IsOpenState(cs));
    std::vector<render::Data> codes, colleagues;
    for (const auto& c : caller.config->proto().outcome_codes()) {
      bool here = c.destinations().empty();
      for (const auto& x : c.destinations()) here = here || x == dest;
      if (!here) continue;
      render::Data o;
      o.set("code", c.code());
      o.set("description", c.description());
      codes.push_back(o);
    }
    for (const auto& p : caller.config->proto().people()) {
      if (p.disabled() || p.id() == assignee) continue;
      bool lead = std::find(p.roles().begin(), p.roles().end(), v1::StaffMember::LEAD) != p.roles().end();
      if (!lead || std::find(p.destinations().begin(), p.destinations().end(), dest) == p.destinations().end()) continue;
      render::Data o;
      o.set("id", p.id());
      o.set("label", PersonLabel(p));
      colleagues.push_back(o);
    }
    d.set("codes", render::List(codes));
    d.set("colleagues", render::List(colleagues));
    if (req.has_param("done")) d.set("notice", Param(req, "done"));
    Page(res, "console_case", d);
  });

  s.Post("/case/act", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, true, &caller) || !RequireRole(caller, v1::StaffMember::LEAD, res)) return;
    const std::string referral = Param(req, "referral"), dest = Param(req, "destination");
    if (!caller.Works(dest)) {
      Message(res, &caller, 403, "Not your destination",
              "You do not work cases at " + (dest.empty() ? std::string("that destination") : dest) +
                  "; nothing was recorded.");
      return;
    }
    v1::Event event;
    std::string key, done;
    Status st = BuildAction(req, referral, dest, &event, &key, &done);
    if (st.ok() && event.has_case_assigned()) {
      const v1::StaffMember* who = FindPerson(*caller.config, event.case_assigned().assignee());
      const bool works = who != nullptr && !who->disabled() &&
                         std::find(who->destinations().begin(), who->destinations().end(), dest) !=
                             who->destinations().end();
      if (!works) st = Status::InvalidArgument(event.case_assigned().assignee() + " does not work cases at " + dest);
    }
    v1::Ack ack;
    if (st.ok()) st = BrokerFor(caller.person.id())->Append(event, key, &ack);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not done",
              st.message() + (st.field_path().empty() ? "" : " (" + st.field_path() + ")") +
                  ". Nothing was recorded.");
      return;
    }
    if (ack.duplicate()) done += " (already done earlier; nothing new recorded)";
    res.status = 303;
    res.set_header("Location", CaseLink(referral, dest) + "&done=" + httplib::detail::encode_query_param(done));
  });
}

}  // namespace refx::console
