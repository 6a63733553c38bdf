// The auditor's integrity page and the downloads of a referral's record.
// Both run the code `refx audit` runs (audit/): the integrity page the
// online verification of `refx audit verify` (the hash chain recomputed
// from the bytes the broker streams, and the signed checkpoints held against
// it), the downloads the json / csv / html of `refx audit export`, byte for
// byte. Each is an audited read: it asks for a purpose, which the broker
// records with the person before it sends anything.
#include <spdlog/spdlog.h>

#include "audit/export_render.h"
#include "audit/online_verify.h"
#include "console/console_impl.h"
#include "core/event_util.h"
#include "core/hex.h"
#include "render/format.h"

namespace refx::console {

namespace {

constexpr size_t kMinPurpose = 5;

}  // namespace

void Console::Impl::AddRecordRoutes() {
  auto& s = server();

  // The integrity check: without a purpose, the form asking for one; with
  // it, the whole log verified through the broker and each signed
  // checkpoint's standing.
  s.Get("/audit/integrity", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string purpose = Param(req, "purpose");
    render::Data d = PageData(&caller, "Integrity of the log");
    if (purpose.empty()) {
      d.set("ask", true);
      Page(res, "console_audit_integrity", d);
      return;
    }
    if (purpose.size() < kMinPurpose) {
      Message(res, &caller, 400, "Purpose needed",
              "Say why you verify the log (at least 5 characters); it is recorded with your name.");
      return;
    }
    audit::OnlineVerifyOptions options;
    options.purpose = purpose + " (integrity check)";
    Status st = audit::LoadSigningKeys(options_.signing_pubs, &options.keys);
    if (!st.ok()) {
      spdlog::error("console: checkpoint signing key: {}", st.ToString());
      Message(res, &caller, 500, "Integrity not checked",
              "The console cannot read the broker's checkpoint signing key; ask the administrator.");
      return;
    }
    audit::OnlineVerification v;
    st = audit::VerifyThroughBroker(BrokerFor(caller.person.id(), 60000).get(), options, &v);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Integrity not checked", st.message());
      return;
    }
    const v1::VerifyResult& r = v.result;
    d.set("purpose", purpose);
    d.set("ok", r.ok());
    d.set("problem", r.problem());
    d.set("first_bad_seq", std::to_string(r.first_bad_seq()));
    d.set("detail", r.detail());
    d.set("events_checked", std::to_string(r.events_checked()));
    d.set("head_seq", std::to_string(r.head_seq()));
    d.set("last_seq", std::to_string(r.last_seq()));
    d.set("checkpoints_checked", std::to_string(r.checkpoints_checked()));
    d.set("last_checkpoint_seq", std::to_string(r.last_checkpoint_seq()));
    d.set("authenticated", r.checkpoints_authenticated());
    d.set("no_checkpoint", r.last_checkpoint_seq() == 0);
    d.set("uncovered", r.ok() && r.last_checkpoint_seq() > 0 && r.last_checkpoint_seq() < r.last_seq());
    d.set("uncovered_from", std::to_string(r.last_checkpoint_seq() + 1));
    std::vector<render::Data> rows;
    for (const audit::CheckpointStatus& c : v.checkpoints) {
      render::Data row;
      row.set("seq", std::to_string(c.checkpoint.seq()));
      row.set("signed_at", render::LondonTime(c.checkpoint.signed_at().seconds()));
      row.set("key_id", c.checkpoint.key_id());
      row.set("signer", c.signer.empty() ? "unknown key" : c.signer);
      row.set("source", c.trusted ? "trusted copy" : "broker");
      row.set("hash", ToHex(c.checkpoint.chain_hash()).substr(0, 16));
      const bool verified = c.authentic && c.matches_chain && r.checkpoints_authenticated();
      row.set("verified", verified);
      row.set("status", !c.authentic           ? "bad signature"
                        : !c.matches_chain      ? "does not match the chain"
                        : r.checkpoints_authenticated() ? "verified"
                                                : "matches the chain; signature not checked");
      rows.push_back(row);
    }
    d.set("has_checkpoints", !rows.empty());
    d.set("checkpoints", render::List(rows));
    Page(res, "console_audit_integrity", d, 200);
  });
  // The old address of the checkpoint list.
  s.Get("/audit/checkpoints", [](const httplib::Request&, httplib::Response& res) {
    res.status = 303;
    res.set_header("Location", "/audit/integrity");
  });

  // A referral's record as `refx audit export --format FORMAT` writes it,
  // up to `to_seq` when given (the timeline page passes the last seq it
  // showed, so the download holds what the auditor saw).
  s.Get("/audit/export", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string referral = Param(req, "referral"), purpose = Param(req, "purpose"), format = Param(req, "format"),
                      to_seq_text = Param(req, "to_seq");
    uint64_t seq = 0, to_seq = 0;
    const bool to_seq_ok = to_seq_text.empty() || (to_seq_text.find_first_not_of("0123456789") == std::string::npos &&
                                                   to_seq_text.size() < 20 &&
                                                   (to_seq = std::stoull(to_seq_text)) > 0);
    if (!SeqForReferralId(referral, &seq) || purpose.size() < kMinPurpose || !audit::IsExportFormat(format) ||
        !to_seq_ok) {
      Message(res, &caller, 400, "Export refused",
              "An export needs a referral id, a purpose (at least 5 characters), format json, csv or html, and "
              "to_seq, when given, a seq.");
      return;
    }
    v1::AuditExport x;
    x.set_referral_id(referral);
    x.set_exported_by(caller.person.id() + " (" + caller.person.agency_id() + ")");
    x.set_purpose(purpose);
    v1::ReadRequest r;
    r.set_referral_id(referral);
    r.set_purpose(purpose + " (export " + format + ")");
    r.set_to_seq(to_seq);
    // As `refx audit export`: records of reads alone do not make a referral.
    bool exists = false;
    Status st = BrokerFor(caller.person.id(), 15000)->Read(r, [&](const v1::Event& e, const std::string&,
                                                                  const std::string& hash) {
      if (!e.has_record_accessed()) exists = true;
      audit::AddExportEvent(e, hash, &x);
      return true;
    });
    if (st.ok() && !exists) st = Status::NotFound("no such referral: " + referral);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not exported", st.message());
      return;
    }
    audit::FinishExport(Now(), &x);
    std::string text;
    st = audit::RenderExport(x, format, audit::DestinationNames(caller.config->proto()), &text);
    if (!st.ok()) {
      Message(res, &caller, 500, "Not exported", st.message());
      return;
    }
    if (format == "html") {
      // The record is a stand-alone page with its own inline style, no script.
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'none'");
    }
    res.set_header("Content-Disposition", "attachment; filename=\"" + referral + "." + format + "\"");
    res.set_content(text, audit::ExportContentType(format));
  });
}

}  // namespace refx::console
