// The adapter's store-and-forward spool: where a referral is made durable on
// the adapter's own disk before the adapter answers "accepted", and from
// where the forwarder sends it to the broker until the broker's ack is
// durable.
//
// Layout (maildir pattern) under the spool folder:
//   tmp/    a unit being written; never read, removed at Open
//   new/    durable units waiting to be forwarded, oldest first by name
//   cursor/ per unit, how many of its referrals the broker has acknowledged
// A unit is written to tmp/, fsynced, renamed into new/, and new/ is
// fsynced before Append returns: a unit is either wholly in new/ or absent.
//
// THIS HEADER IS THE CONTRACT the HTTP intake, the file drop and the
// forwarder share; adapters/spool/spool.cc implements it.
#ifndef REFX_ADAPTERS_SPOOL_SPOOL_H_
#define REFX_ADAPTERS_SPOOL_SPOOL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "refx/v1/referral.pb.h"

namespace refx::adapters {

// A durable unit in new/, as the forwarder sees it.
struct SpoolUnit {
  std::string name;      // file name in new/, orders units
  std::string source;    // "http", "file:police-export-0412.csv", ...
  // The referrals as spooled, each its binary protobuf (refx.v1.Referral):
  // the forwarder puts these bytes into its frames without parsing them.
  std::vector<std::string> encoded;
  size_t acknowledged = 0;  // the durable cursor: referrals [0, acknowledged) are in the broker's log
  std::chrono::system_clock::time_point spooled_at;

  size_t size() const { return encoded.size(); }
  // The referrals parsed (for tests and tools; the spool checked every one
  // parses when it read the unit).
  std::vector<refx::v1::Referral> Decoded() const;
};

// One referral ready for the spool: its agency reference and its binary
// protobuf, as the file drop already has them (it serialises each referral
// once to compare contents).
struct EncodedReferral {
  std::string reference;  // referrer_reference, never empty
  std::string bytes;      // refx.v1.Referral, binary
};

// The referrer_reference of an encoded Referral without parsing the rest
// (field 1 comes first in protobuf's canonical order; otherwise the bytes
// are parsed). False when the bytes are not a Referral.
bool ReferenceOfEncoded(const std::string& bytes, std::string* reference);

// Figures for /metrics.
struct SpoolFigures {
  uint64_t units = 0;           // units in new/
  uint64_t referrals = 0;       // referrals not yet acknowledged by the broker
  double oldest_age_seconds = 0;
};

// Thread-safe: Append may be called from many threads at once (HTTP
// workers, the file drop); the forwarder calls the other methods from one
// thread.
class Spool {
 public:
  // Opens the spool in `dir`, creating the folders as needed, and removes
  // whatever tmp/ holds (never acknowledged to anyone). On success *spool
  // owns the open spool. IOError when a folder cannot be made or read.
  static Status Open(const std::string& dir, std::unique_ptr<Spool>* spool);

  virtual ~Spool() = default;

  // Durably stores `referrals` (each with referrer_reference set) as one
  // unit from `source`. Returns OK only once the unit is in new/ and
  // new/ is fsynced: it then survives a crash or power loss. Concurrent
  // calls are grouped so that one fsync of the folder serves many callers.
  // On error nothing was stored (the caller must not answer "accepted").
  virtual Status Append(std::vector<refx::v1::Referral> referrals,
                        const std::string& source) = 0;

  // Append for referrals already serialised: the same contract. This
  // default parses them and calls Append; the disk spool writes the bytes
  // as they are.
  virtual Status AppendEncoded(std::vector<EncodedReferral> referrals, const std::string& source);

  // The oldest unit in new/ with referrals still unacknowledged.
  // NotFound when the spool is empty.
  virtual Status Oldest(SpoolUnit* unit) = 0;

  // The first unit after `after` (by name) with referrals still
  // unacknowledged; NotFound when there is none.
  virtual Status Next(const std::string& after, SpoolUnit* unit) = 0;

  // Durably records that referrals [0, acknowledged) of `unit_name` are in
  // the broker's log; removes the unit (and its cursor) once all are. The
  // removal itself is not fsynced: after a crash the unit may be offered
  // again, which is safe because the broker answers a resent referral as a
  // duplicate (the caller records the broker's answers before calling).
  virtual Status MarkAcknowledged(const std::string& unit_name,
                                  size_t acknowledged) = 0;

  // Whether a referral with this referrer_reference is waiting in the
  // spool: OK when it is, NotFound when it is not.
  virtual Status FindWaiting(const std::string& referrer_reference) = 0;

  virtual SpoolFigures Figures() = 0;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_SPOOL_SPOOL_H_
