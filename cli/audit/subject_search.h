// Finding every referral about a person (subject access requests): the
// keyed subject hash of NAME and DATE OF BIRTH is computed here, with the
// subject key the partnership configuration names (core/subject_key.h, the
// router's own normalisation), and only the hash goes to the broker, which
// answers from its subject index (QueryRequest.subject_key) and records the
// search as a record_accessed event with its purpose. The broker never
// holds the subject key and never sees the name or date of birth.
//
// Thread-safety: plain functions; call from one thread.
#pragma once

#include <string>

#include "cli/local_stack.h"
#include "core/status.h"
#include "refx/v1/wire.pb.h"

namespace refx::cli::audit {

struct SubjectSearch {
  std::string name;     // as typed: spacing, case and punctuation do not matter
  std::string dob;      // YYYY-MM-DD
  std::string purpose;  // required; recorded with the search
  std::string as;       // reading identity (AUDITOR or ADMIN)
  std::string config;   // partnership configuration; empty: HOME/config.textproto
};

// Checks the purpose, name and date of birth, loads the subject key, connects
// as `search.as` and asks the broker for every referral about the person.
// Returns kExitOk with *result set (its referrals in submission order, with
// their cases), or the exit code after printing why as `command`.
// For a command that takes one REFERRAL or --subject with --name and
// --dob: OK when exactly one of the two is given and --name/--dob only with
// --subject; else InvalidArgument saying which.
Status CheckReferralOrSubject(const std::string& referral, bool subject, const SubjectSearch& search);

int FindSubjectReferrals(const std::string& command, const ConnectionFlags& flags, const SubjectSearch& search,
                         v1::QueryResult* result);

}  // namespace refx::cli::audit
