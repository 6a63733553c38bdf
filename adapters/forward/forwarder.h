// The forwarder: takes the oldest unit from the spool and submits its
// referrals to the broker in SubmitBatchRequest frames (client/
// broker_client.h), as the adapter's agency. What the broker answers for
// each referral (accepted with id and seq, or refused with its reason) is
// made durable in the OutcomeIndex, and only then does the spool's cursor
// move past it (Spool::MarkAcknowledged); that recording overlaps the
// sending of the next round. Spooled referrals are sent as the bytes the
// spool holds (BrokerClient::SubmitBatchesEncoded), never re-parsed. When the broker does not answer,
// the same referrals are sent again after a back-off (doubling from
// backoff_initial_ms to backoff_max_ms); the broker keeps one referral per
// (agency, referrer_reference), so a resend lands once.
//
// Thread-safety: Start, Stop are for one controlling thread; Wake and
// Figures may be called from any thread. Owns one thread while started.
#ifndef REFX_ADAPTERS_FORWARD_FORWARDER_H_
#define REFX_ADAPTERS_FORWARD_FORWARDER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/forward/outcome_index.h"
#include "adapters/spool/spool.h"
#include "client/broker_client.h"

namespace refx::adapters {

struct ForwarderOptions {
  uint32_t batch_max = 256;          // referrals per frame
  uint32_t window = 4;               // frames in flight
  uint32_t backoff_initial_ms = 200;
  uint32_t backoff_max_ms = 30000;
};

struct ForwarderFigures {
  uint64_t forwarded = 0;      // referrals the broker accepted (including duplicates)
  uint64_t refused = 0;        // referrals the broker refused (recorded, not retried)
  uint64_t failures = 0;       // forward attempts that failed and will be retried
  bool broker_reachable = false;  // the last attempt reached the broker
};

class Forwarder {
 public:
  // `spool` and `outcomes` are not owned and must outlive the forwarder.
  Forwarder(ForwarderOptions options, ClientOptions client, Spool* spool, OutcomeIndex* outcomes);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  void Start();
  // Stops after the batch in flight (which may still be answered and is
  // then recorded); joins the thread. Safe to call twice.
  void Stop();
  // Something was appended to the spool: look now rather than at the next poll.
  void Wake();
  ForwarderFigures Figures() const;

  // Whether a broker answer for one referral is final (recorded, never
  // retried): acceptance and refusals of the referral itself; not the
  // broker being unreachable, busy or failing inside.
  static bool IsFinal(const Status& status);

 private:
  void Run();
  // Forwards what remains of `units` (consecutive spool units, oldest
  // first). Returns false when it stopped on a failure (the caller backs
  // off) or Stop.
  bool ForwardUnits(std::vector<SpoolUnit>* units);
  // Referrals a round takes at most.
  size_t RoundMax() const;
  // The oldest units with referrals neither acknowledged nor answered,
  // up to RoundMax referrals. OK with none when there are none.
  Status ReadRound(std::vector<SpoolUnit>* units);
  // Waits for the recording in progress (if any) and returns its result.
  Status FinishRecording();
  void Sleep(std::chrono::milliseconds how_long);

  const ForwarderOptions options_;
  const ClientOptions client_options_;
  Spool* const spool_;
  OutcomeIndex* const outcomes_;
  std::unique_ptr<BrokerClient> client_;

  // Recording a round's answers (outcomes fsync, then the spool cursors)
  // runs on a thread of its own while the next round is sent, so the
  // broker's group commit and the adapter's own fsyncs overlap instead of
  // taking turns. One recording at a time, in order; a unit's cursor still
  // moves only once the answers before it are durable. answered_ holds,
  // per unit, the end of its answered prefix while its record is being
  // written, so that those referrals are not sent again meanwhile. Only
  // the forwarder's thread touches these.
  std::future<Status> recording_;
  std::vector<std::pair<std::string, size_t>> recording_cursors_;
  std::map<std::string, size_t> answered_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;

  std::atomic<uint64_t> forwarded_{0}, refused_{0}, failures_{0};
  std::atomic<bool> reachable_{false};
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FORWARD_FORWARDER_H_
