// refx-faults-dump: prints a stopped broker's event log as one JSON line per
// event (protobuf's JSON mapping of refx.v1.Event, camelCase), for the fault
// trials (tests/faults/faults.py) to count what survived. The referral and
// the need-to-know views are reduced to the agency and reference so that no
// personal data is printed, even synthetic.
//
// Usage: refx-faults-dump DATA_DIR. Exit 0 when the whole log was read, 1 when
// it cannot be opened or read (the message on stderr says why).
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <memory>

#include "eventlog/event_log.h"
#include "refx/v1/event.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: refx-faults-dump DATA_DIR\n";
    return 2;
  }
  refx::eventlog::OpenOptions options;
  options.path = argv[1];
  options.read_only = true;
  options.create_if_missing = false;
  std::unique_ptr<refx::eventlog::EventLog> log;
  refx::Status s = refx::eventlog::EventLog::Open(options, &log);
  if (!s.ok()) {
    std::cerr << "refx-faults-dump: " << s.ToString() << "\n";
    return 1;
  }
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = false;
  bool parsed = true;
  s = log->Scan(1, 0, [&](const refx::eventlog::StoredEvent& stored) {
    refx::v1::Event e;
    if (!e.ParseFromString(stored.bytes)) {
      std::cerr << "refx-faults-dump: seq " << stored.seq << " does not parse\n";
      parsed = false;
      return false;
    }
    if (e.has_referral_submitted()) {
      refx::v1::Referral* r = e.mutable_referral_submitted()->mutable_referral();
      refx::v1::Referral kept;
      kept.set_referrer_reference(r->referrer_reference());
      *r = kept;
    }
    if (e.has_case_delivered()) e.mutable_case_delivered()->clear_view();
    std::string line;
    if (!google::protobuf::util::MessageToJsonString(e, &line, json).ok()) line = "{\"seq\":\"" + std::to_string(stored.seq) + "\"}";
    std::cout << line << "\n";
    return true;
  });
  if (!s.ok()) {
    std::cerr << "refx-faults-dump: " << s.ToString() << "\n";
    return 1;
  }
  return parsed ? 0 : 1;
}
