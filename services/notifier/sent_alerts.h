// SentAlerts: the notifier's durable memory of the alerts it has sent, so
// each alert goes out once across restarts. One file in the state folder:
//   from <seq>      first line: the last event more than an hour old when
//                   the notifier first ran; events up to it raise no
//                   new-case or escalation alerts (a notifier added to a
//                   running partnership does not mail about every old case)
//   <alert key>     one line per alert the relay accepted (Alert::Key)
// Each line is appended and fsynced before Add returns; a torn last line
// (a crash mid-write) is ignored on Open. The alert is sent before it is
// recorded, so a crash in between sends that one alert twice: never none.
// Compact drops the keys no alert can be raised for again (the notifier's
// cases that have left its view), so the file and the set of keys follow
// the cases still in view, not every alert ever sent.
//
// Thread-safety: not thread-safe; one per process (the state folder lock
// keeps a second process out).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace refx::notifier {

class SentAlerts {
 public:
  // Reads `path`. OK with exists() false when there is no such file yet;
  // Corruption naming the file when its first line is not "from <seq>";
  // IoError when it cannot be read.
  Status Open(const std::string& path);
  // Creates the file with its "from" line (durably). IoError on failure.
  Status Create(uint64_t from_seq);
  // Durably records `key`. IoError on failure (the key is then not
  // recorded and the alert will be sent again).
  Status Add(const std::string& key);
  // Durably records every key of `keys` with one write and one fsync (the
  // alerts of one digest e-mail). IoError on failure: then none is
  // recorded, though a torn write may leave some of them to be found by
  // the next Open, and those alerts are not sent again.
  Status AddAll(const std::vector<std::string>& keys);
  // Rewrites the file with its "from" line and the keys `keep` is true for
  // (ReplaceFileDurably: a crash leaves the old file or the new). OK with
  // the other keys forgotten; IoError leaves the file and the keys as they
  // were.
  Status Compact(const std::function<bool(const std::string& key)>& keep);

  bool exists() const { return exists_; }
  uint64_t from_seq() const { return from_seq_; }
  bool Contains(const std::string& key) const { return keys_.count(key) > 0; }
  size_t size() const { return keys_.size(); }

 private:
  // Appends `text` (whole lines, each ending in '\n') and fsyncs.
  Status AppendText(const std::string& text);

  std::string path_;
  bool exists_ = false;
  uint64_t from_seq_ = 0;
  std::set<std::string> keys_;
};

}  // namespace refx::notifier
