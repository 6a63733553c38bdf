// The record of one referral for a case review or a subject access request
// (refx.v1.AuditExport) and its three renderings — json, csv and html —
// exactly as `refx audit export` writes them and the web console's
// downloads serve them (one implementation, so the two cannot drift); and
// the subject access pack (refx.v1.SubjectAccessPack: every referral about
// one person) of `refx audit export --subject`, rendered from the same
// pieces: csv with a referral column, one html page (template
// subject_access) with a section per referral sharing the single record's
// body (template audit_export_body).
//
// The export IS personal data about the subject: json holds the full
// events; html shows the referral as submitted as labelled fields and every
// event's details with the notes and reasons people wrote, times in UK time
// to the second, with a print stylesheet (template audit_export in
// render/); csv has one row per event with notes and reasons, times in UTC
// to the second, and text cells guarded against formulas (render/csv.h).
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "refx/v1/cli.pb.h"
#include "refx/v1/config.pb.h"
#include "refx/v1/event.pb.h"

namespace refx::audit {

// Appends one event as read from the broker, with the chain hash the broker
// stores with it (32 bytes; kept as hex), to *x. Call in seq order.
void AddExportEvent(const v1::Event& event, const std::string& chain_hash, v1::AuditExport* x);

// Folds the events added into x's case records (audit/referral_fold.h) and
// stamps exported_at with `exported_at_seconds` (unix seconds). Call once,
// after the last AddExportEvent.
void FinishExport(int64_t exported_at_seconds, v1::AuditExport* x);

// Destination code -> configured name, for the html page (a code without a
// name is left out and shown as it is).
std::map<std::string, std::string> DestinationNames(const v1::PartnershipConfig& config);

// True for "json", "csv" and "html".
bool IsExportFormat(const std::string& format);

// Renders `x` as `format` into *out: json (the AuditExport document, pretty
// protobuf JSON and a newline), csv or html. InvalidArgument naming the
// format for any other; Internal when the page template fails.
Status RenderExport(const v1::AuditExport& x, const std::string& format,
                    const std::map<std::string, std::string>& destination_names, std::string* out);

// Renders a subject access pack as `format` into *out: json (the pack,
// pretty protobuf JSON and a newline), csv (the single record's rows, each
// starting with its referral id) or html (one page: the header, the
// redaction note and one section per referral). InvalidArgument naming the
// format for any other; Internal when the page template fails.
Status RenderSubjectAccessPack(const v1::SubjectAccessPack& pack, const std::string& format,
                               const std::map<std::string, std::string>& destination_names, std::string* out);

// What a pack says about redaction (its html page; the CLI prints it too):
// whether other people's data is redacted, and that free text is not.
std::string RedactionNote(const v1::SubjectAccessPack& pack);

// The media type a download of `format` is served with.
std::string ExportContentType(const std::string& format);

}  // namespace refx::audit
