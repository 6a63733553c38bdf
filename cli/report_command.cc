#include "cli/report_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/connect.h"
#include "core/civil_date.h"
#include "core/subject_key.h"
#include "domain/monitoring/monitoring_report.h"
#include "domain/monitoring/report_render.h"

namespace refx::cli {

namespace {

struct ReportArgs {
  std::string from, to;
  std::string month, quarter;
  std::string format = "md";
  std::string as_agency = "ig-auditor";
  std::string out;
  std::string config;
};

// Prints "refx report: MESSAGE" to stderr and returns `code`.
int ReportError(int code, const std::string& message) {
  std::fprintf(stderr, "refx report: %s\n", message.c_str());
  return code;
}

// The subject key named by the configuration, or "" with *why set.
std::string SubjectSecret(const PartnershipConfig& config, const std::string& config_path, std::string* why) {
  std::string secret;
  Status s = LoadConfiguredSubjectKey(config.proto().subject_key_file(), config_path, &secret);
  if (!s.ok()) {
    const std::string& file = config.proto().subject_key_file();
    *why = file.empty() ? "the configuration names no subject_key_file"
                        : "the subject key file " + ConfiguredSubjectKeyPath(file, config_path) +
                              " is missing or unreadable";
    return "";
  }
  return secret;
}

int RunReport(const ReportArgs& args, const ConnectionFlags& flags) {
  outcomes::ReportFormat format;
  if (!outcomes::ParseReportFormat(args.format, &format)) {
    return ReportError(kExitRefused, "--format must be md, csv, html or json, not \"" + args.format + "\"");
  }
  outcomes::ReportPeriod period;
  const int forms = !args.month.empty() + !args.quarter.empty() + (!args.from.empty() || !args.to.empty());
  if (forms != 1) {
    return ReportError(kExitRefused, "give one period: --month YYYY-MM, --quarter YYYY-Qn, or --from and --to dates");
  }
  if (!args.month.empty() || !args.quarter.empty()) {
    const std::string& text = args.month.empty() ? args.quarter : args.month;
    Status parsed = outcomes::ParseReportPeriod(text, &period);
    const bool right_kind = parsed.ok() && (args.month.empty() == (period.id.find('Q') != std::string::npos));
    if (!right_kind) {
      return ReportError(kExitRefused, args.month.empty() ? "--quarter must be YYYY-Qn (Q1 = Jan-Mar), not \"" + text + "\""
                                                          : "--month must be YYYY-MM, not \"" + text + "\"");
    }
  } else {
    CivilDate from, to;
    if (!ParseCivilDate(args.from, &from)) return ReportError(kExitRefused, "--from must be a YYYY-MM-DD date");
    if (!ParseCivilDate(args.to, &to)) return ReportError(kExitRefused, "--to must be a YYYY-MM-DD date");
    if (to < from) return ReportError(kExitRefused, "--to is before --from");
    period = outcomes::DatesPeriod(from, to);
  }
  const std::string config_path = args.config.empty() ? ResolveHome(flags.home) + "/config.textproto" : args.config;
  std::unique_ptr<PartnershipConfig> config;
  Status s = PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) {
    return ReportError(kExitSetupError, "no partnership configuration (" + s.message() +
                                       "); run deploy/refx.sh up, or pass --home or --config");
  }
  const v1::Agency* agency = config->AgencyById(args.as_agency);
  if (agency == nullptr) return ReportError(kExitRefused, "agency \"" + args.as_agency + "\" is not in " + config_path);
  if (!PartnershipConfig::HasRole(*agency, v1::AUDITOR) && !PartnershipConfig::HasRole(*agency, v1::SERVICE)) {
    return ReportError(kExitRefused, "agency \"" + args.as_agency +
                                    "\" may not see the whole log (needs role AUDITOR); the figures would be partial");
  }
  outcomes::ReportOptions options = outcomes::ReportOptionsFor(period, config->proto());
  options.subject_secret = SubjectSecret(*config, config_path, &options.repeat_unavailable);

  std::unique_ptr<BrokerClient> connected;
  s = ConnectAs(flags, args.as_agency, &connected);
  if (!s.ok()) return ReportError(ExitCodeForConnect(s), s.message());
  BrokerClient& client = *connected;

  const bool progress = isatty(STDERR_FILENO);
  uint64_t head = 0;
  s = HeadSeq(&client, &head);
  if (!s.ok()) return ReportError(ExitCodeFor(s), s.ToString());

  outcomes::MonitoringReport report(options);
  v1::ReadRequest request;
  request.set_follow(false);
  request.set_purpose("monitoring report");
  request.set_to_seq(head);  // a consistent "as of": events appended meanwhile wait for the next report
  uint64_t read = 0;
  if (head > 0) {
    s = client.Read(request, [&](const v1::Event& event, const std::string&, const std::string&) {
      report.Add(event);
      if (progress && (++read % 2000 == 0 || event.seq() == head)) {
        std::fprintf(stderr, "\rrefx report: read seq %llu of %llu (%.0f%%)", static_cast<unsigned long long>(event.seq()),
                     static_cast<unsigned long long>(head), 100.0 * static_cast<double>(event.seq()) / head);
      }
      return true;
    });
    if (progress) std::fprintf(stderr, "\n");
    if (!s.ok()) return ReportError(ExitCodeFor(s), "reading the log: " + s.ToString());
  }
  std::string text;
  s = outcomes::Render(report.Figures(), format, &text);
  if (!s.ok()) return ReportError(kExitSetupError, "rendering the report: " + s.ToString());
  if (args.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  } else {
    // Written beside the target and renamed, so a reader never sees half a report.
    const std::string tmp = args.out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) return ReportError(kExitRefused, "cannot write " + tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, args.out, ec);
    if (ec) return ReportError(kExitRefused, "cannot write " + args.out + ": " + ec.message());
    if (progress) std::fprintf(stderr, "refx report: wrote %s\n", args.out.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Monitoring figures for a CSP board: referrals submitted in a month, a quarter or between two dates, beside "
      "the period before (of the same length), with a 12-month trend");
  cmd->add_option("--month", args->month, "A calendar month, YYYY-MM (e.g. 2026-11); the previous month beside it");
  cmd->add_option("--quarter", args->quarter,
                  "A calendar quarter, YYYY-Qn (Q1 = Jan-Mar, e.g. 2026-Q3); the previous quarter beside it");
  cmd->add_option("--from", args->from, "First submission date, YYYY-MM-DD (UTC), with --to");
  cmd->add_option("--to", args->to, "Last submission date, YYYY-MM-DD (UTC), inclusive, with --from");
  cmd->add_option("--format", args->format,
                  "md, csv (one wide table for a spreadsheet), html (one page with charts) or json")->capture_default_str();
  cmd->add_option("--as", args->as_agency, "Agency to read the log as (role AUDITOR)")->capture_default_str();
  cmd->add_option("--out", args->out, "Write the report to this file instead of stdout");
  cmd->add_option("--config", args->config, "Partnership configuration (default: HOME/config.textproto)");
  cmd->callback([args, flags, exit_code] { *exit_code = RunReport(*args, *flags); });
}

}  // namespace refx::cli
