#include "eventlog/verifier.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <thread>
#include <unordered_map>


#include "core/event_util.h"
#include "eventlog/chain_checker.h"
#include "eventlog/checkpoints.h"
#include "eventlog/fast_chain_hash.h"  // ChainHashAccelerated
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"

namespace refx::eventlog {

namespace {

constexpr uint64_t kNoSeq = std::numeric_limits<uint64_t>::max();
// How far beyond the recorded head the verifier looks for stray events (they
// are reported as HEAD_MISMATCH at head + 1 anyway; this bounds the memory a
// forged huge key could cost).
constexpr uint64_t kBeyondHeadWindow = uint64_t{1} << 20;
constexpr char kAppendKeyPrefix[] = "append:";

// ---------------------------------------------------------------------------
// The earliest problem seen, with precedence by LogProblem order at equal seq.

// Offers a problem; the detail expression is evaluated only if it wins.
#define REFX_OFFER(cand, s, p, detail_expr)                            \
  do {                                                                 \
    if ((cand).Beats((s), (p))) (cand).Offer((s), (p), (detail_expr)); \
  } while (0)

std::string Seq(uint64_t seq) { return std::to_string(seq); }

// ---------------------------------------------------------------------------
// A lightweight reader of the few Event fields the checks need, straight
// from the wire format. It gives up (returns false) on anything unusual —
// a field repeated, a group, an unexpected wire type — and the caller then
// uses the full protobuf parser, so the result is always what
// ReferralIdOf/DestinationOf would say.

struct EventFields {
  uint64_t seq = 0;
  std::string_view actor;
  int body = 0;  // field number of the body (10..27 or 50), 0 for none
  std::string_view referral_id;
  std::string_view destination;
  std::string_view reference;  // referral_submitted.referral.referrer_reference
};

bool ReadVarint(const unsigned char*& p, const unsigned char* end, uint64_t* out) {
  if (p < end && *p < 0x80) {  // one byte: nearly every tag and length
    *out = *p++;
    return true;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const unsigned char b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Skips a field of wire type `wt`; false for groups or truncation.
bool SkipField(uint32_t wt, const unsigned char*& p, const unsigned char* end) {
  uint64_t v = 0;
  switch (wt) {
    case 0: return ReadVarint(p, end, &v);
    case 1:
      if (end - p < 8) return false;
      p += 8;
      return true;
    case 5:
      if (end - p < 4) return false;
      p += 4;
      return true;
    case 2:
      if (!ReadVarint(p, end, &v) || v > static_cast<uint64_t>(end - p)) return false;
      p += v;
      return true;
    default: return false;
  }
}

// Reads a length-delimited payload after its tag.
bool ReadBytes(const unsigned char*& p, const unsigned char* end, std::string_view* out) {
  uint64_t len = 0;
  if (!ReadVarint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(p), len);
  p += len;
  return true;
}

// Event.subject_indexed's field number: the one body outside 10..27.
constexpr int kSubjectIndexedBody = v1::Event::kSubjectIndexedFieldNumber;

bool BodyHasDestination(int body) {
  // 24..26: case_received_by_system, case_transfer_failed, case_assigned.
  return (body >= 11 && body <= 17) || (body >= 19 && body <= 21) || (body >= 24 && body <= 26);
}

// Referral: only referrer_reference (1).
bool LightParseReferral(std::string_view bytes, std::string_view* reference) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  bool seen = false;
  while (p < end) {
    uint64_t tag = 0;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3), wt = tag & 7;
    if (field == 0) return false;
    if (field == 1) {
      if (wt != 2 || seen || !ReadBytes(p, end, reference)) return false;
      seen = true;
    } else if (!SkipField(wt, p, end)) {
      return false;
    }
  }
  return true;
}

bool LightParseBody(int body, std::string_view bytes, EventFields* f) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  // 50: subject_indexed (referral_id 1; its field 2 is the subject key).
  const bool has_referral = (body >= 10 && body <= 22) || (body >= 24 && body <= 26) || body == kSubjectIndexedBody;
  const bool has_destination = BodyHasDestination(body);
  bool seen1 = false, seen2 = false, seen_accessed = false;
  while (p < end) {
    uint64_t tag = 0;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3), wt = tag & 7;
    if (field == 0) return false;
    if (body == 23 && field == 3) {
      // record_accessed is indexed under the first referral it names
      // (ReferralIdOf in core/event_util.cc).
      std::string_view id;
      if (wt != 2 || !ReadBytes(p, end, &id)) return false;
      if (!seen_accessed) f->referral_id = id;
      seen_accessed = true;
    } else if (field == 1 && has_referral) {
      if (wt != 2 || seen1 || !ReadBytes(p, end, &f->referral_id)) return false;
      seen1 = true;
    } else if (field == 2 && (has_destination || body == 10)) {
      std::string_view payload;
      if (wt != 2 || seen2 || !ReadBytes(p, end, &payload)) return false;
      seen2 = true;
      if (has_destination) {
        f->destination = payload;
      } else if (!LightParseReferral(payload, &f->reference)) {
        return false;
      }
    } else if (!SkipField(wt, p, end)) {
      return false;
    }
  }
  return true;
}

bool LightParseEvent(std::string_view bytes, EventFields* f) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  bool seen_seq = false, seen_actor = false;
  std::string_view body_bytes;
  while (p < end) {
    uint64_t tag = 0;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3), wt = tag & 7;
    if (field == 0) return false;
    if (field == 1) {
      if (wt != 0 || seen_seq || !ReadVarint(p, end, &f->seq)) return false;
      seen_seq = true;
    } else if (field == 3) {
      if (wt != 2 || seen_actor || !ReadBytes(p, end, &f->actor)) return false;
      seen_actor = true;
    } else if ((field >= 10 && field <= 27) || field == kSubjectIndexedBody) {  // the Event body oneof
      if (wt != 2 || f->body != 0 || !ReadBytes(p, end, &body_bytes)) return false;
      f->body = static_cast<int>(field);
    } else if (field == 2 && wt != 2) {
      return false;
    } else if (!SkipField(wt, p, end)) {
      return false;
    }
  }
  return f->body == 0 || LightParseBody(f->body, body_bytes, f);
}

// Fills *f from the event bytes: the light reader, else the full parser
// (whose result *scratch then owns). False if the bytes are not an Event.
bool ReadEventFields(std::string_view bytes, v1::Event* scratch, EventFields* f) {
  *f = EventFields();
  if (LightParseEvent(bytes, f)) return true;
  *f = EventFields();
  if (!scratch->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  f->seq = scratch->seq();
  f->actor = scratch->actor();
  f->body = static_cast<int>(scratch->body_case());
  f->referral_id = ReferralIdOf(*scratch);
  f->destination = DestinationOf(*scratch);
  if (scratch->has_referral_submitted()) f->reference = scratch->referral_submitted().referral().referrer_reference();
  return true;
}

// "R-" and ten digits, not all zero: the number; else 0.
uint64_t CanonicalReferralNumber(std::string_view id) {
  if (id.size() != 12 || id[0] != 'R' || id[1] != '-') return 0;
  uint64_t v = 0;
  for (size_t i = 2; i < 12; ++i) {
    if (id[i] < '0' || id[i] > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  return v;
}

// ---------------------------------------------------------------------------
// The indexes, loaded by seq so each event is checked with one array read.

struct IndexTables {
  static constexpr uint64_t kOtherReferral = kNoSeq;  // see referral_other

  uint64_t n = 0;  // slots 1..n
  std::vector<uint64_t> referral;  // 0: none; canonical number; kOtherReferral
  std::unordered_map<uint64_t, std::string> referral_other;
  std::vector<uint32_t> destination;  // 0: none; else destination_names[v - 1]
  std::vector<std::string> destination_names;
  std::unordered_map<std::string, uint32_t> destination_ids;
  // The dedupe key naming seq s is dedupe_arena.substr(dedupe_offset[s],
  // dedupe_length[s]); length 0: none (a key holds at least its NUL). Kept
  // by seq, like the others, so the scan reads them in order and fetches
  // only the key bytes from elsewhere in memory. (RocksDB keys are shorter
  // than 4 GiB: their length is a varint32 in the block format.)
  std::vector<uint64_t> dedupe_offset;
  std::vector<uint32_t> dedupe_length;
  std::string dedupe_arena;

  std::string_view DedupeKeyOf(uint64_t seq) const {
    return std::string_view(dedupe_arena).substr(dedupe_offset[seq], dedupe_length[seq]);
  }
  // Asks the CPU to start fetching the dedupe key of seq (if any): the keys
  // lie in key order, so the scan, in seq order, would wait on a cache miss
  // for nearly each one.
  void PrefetchDedupeKey(uint64_t seq) const {
    if (seq <= n && dedupe_length[seq] != 0) __builtin_prefetch(dedupe_arena.data() + dedupe_offset[seq]);
  }
};

// Splits an index key "value NUL seq(8)"; false when malformed.
bool SplitIndexKey(std::string_view key, std::string_view* value, uint64_t* seq) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return false;
  *value = key.substr(0, key.size() - 9);
  *seq = DecodeSeq(key.substr(key.size() - 8));
  return true;
}

// Each loader fills its own part of the tables and its own candidate, so
// the three can run on different threads.
struct LoadResult {
  uint64_t entries = 0;
  Finding problem;
};

// Reads the index family `family` (keys "value NUL seq"). Each well-formed
// entry naming a seq of 1..n that taken(seq) does not report as already
// named goes to add(value, seq); every other entry is offered to the
// result's problem as INDEX_MISMATCH.
template <typename Taken, typename Add>
LoadResult LoadSeqIndex(const EventLog& log, const std::string& family, uint64_t n, Taken taken, Add add) {
  LoadResult result;
  Finding& c = result.problem;
  Status s = log.ScanFamily(family, "", "", false, [&](std::string_view key, std::string_view) {
    ++result.entries;
    std::string_view value;
    uint64_t seq = 0;
    if (!SplitIndexKey(key, &value, &seq)) {
      REFX_OFFER(c, 0, LogProblem::kIndexMismatch, family + " holds a malformed key");
    } else if (seq == 0 || seq > n) {
      REFX_OFFER(c, seq, LogProblem::kIndexMismatch,
                 family + " names seq " + Seq(seq) + " under " + std::string(value) + ", which is not in the log");
    } else if (taken(seq)) {
      REFX_OFFER(c, seq, LogProblem::kIndexMismatch, family + " names seq " + Seq(seq) + " twice");
    } else {
      add(value, seq);
    }
    return true;
  });
  if (!s.ok()) REFX_OFFER(c, 0, LogProblem::kIndexMismatch, "cannot read " + family + ": " + s.ToString());
  return result;
}

LoadResult LoadReferralIndex(const EventLog& log, uint64_t n, IndexTables* t) {
  t->referral.assign(n + 1, 0);
  return LoadSeqIndex(
      log, "by_referral", n, [t](uint64_t seq) { return t->referral[seq] != 0; },
      [t](std::string_view value, uint64_t seq) {
        const uint64_t number = CanonicalReferralNumber(value);
        if (number != 0) {
          t->referral[seq] = number;
        } else {
          t->referral[seq] = IndexTables::kOtherReferral;
          t->referral_other.emplace(seq, std::string(value));
        }
      });
}

LoadResult LoadDestinationIndex(const EventLog& log, uint64_t n, IndexTables* t) {
  t->destination.assign(n + 1, 0);
  std::string last_code;
  uint32_t last_id = 0;
  return LoadSeqIndex(
      log, "by_destination", n, [t](uint64_t seq) { return t->destination[seq] != 0; },
      [&](std::string_view value, uint64_t seq) {
        // Keys come grouped by destination: look the code up once per group.
        if (last_id == 0 || value != last_code) {
          last_code.assign(value);
          auto it = t->destination_ids.find(last_code);
          if (it == t->destination_ids.end()) {
            t->destination_names.push_back(last_code);
            it = t->destination_ids.emplace(last_code, static_cast<uint32_t>(t->destination_names.size())).first;
          }
          last_id = it->second;
        }
        t->destination[seq] = last_id;
      });
}

LoadResult LoadDedupeIndex(const EventLog& log, uint64_t n, IndexTables* t) {
  LoadResult result;
  Finding& c = result.problem;
  t->dedupe_offset.assign(n + 1, 0);
  t->dedupe_length.assign(n + 1, 0);
  Status s = log.ScanFamily("dedupe", "", "", false, [&](std::string_view key, std::string_view value) {
    ++result.entries;
    const size_t nul = key.find('\0');
    if (value.size() != 8 || nul == std::string_view::npos) {
      REFX_OFFER(c, 0, LogProblem::kIndexMismatch, "dedupe holds a malformed entry");
      return true;
    }
    const uint64_t seq = DecodeSeq(value);
    if (seq == 0 || seq > n) {
      REFX_OFFER(c, seq, LogProblem::kIndexMismatch,
                 "a dedupe entry of " + std::string(key.substr(0, nul)) + " names seq " + Seq(seq) +
                     ", which is not in the log");
      return true;
    }
    if (t->dedupe_length[seq] != 0) {
      REFX_OFFER(c, seq, LogProblem::kIndexMismatch, "two dedupe entries name seq " + Seq(seq));
      return true;
    }
    t->dedupe_offset[seq] = t->dedupe_arena.size();
    t->dedupe_length[seq] = static_cast<uint32_t>(key.size());
    t->dedupe_arena.append(key);
    return true;
  });
  if (!s.ok()) REFX_OFFER(c, 0, LogProblem::kIndexMismatch, "cannot read dedupe: " + s.ToString());
  return result;
}

// True if `key` is identity NUL rest, with `rest` starting with `prefix`
// and, when `exact`, equal to it.
bool DedupeKeyMatches(std::string_view key, std::string_view identity, std::string_view rest, bool exact) {
  if (key.size() < identity.size() + 1 + rest.size()) return false;
  if (exact && key.size() != identity.size() + 1 + rest.size()) return false;
  return key.compare(0, identity.size(), identity) == 0 && key[identity.size()] == '\0' &&
         key.compare(identity.size() + 1, rest.size(), rest) == 0;
}

// Checks one event against the index tables.
// `indexed`: seq is at or before the log's index marker (EventLog::
// indexed_seq); after it, a missing by_referral / by_destination entry is
// one a power loss took and the next writable open restores, not damage.
void CheckEventIndexes(const IndexTables& t, uint64_t seq, const EventFields& f, bool indexed, Finding* c) {
  // by_referral
  const uint64_t slot = t.referral[seq];
  if (f.referral_id.empty()) {
    if (slot != 0) {
      REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
                 "by_referral names seq " + Seq(seq) + ", an event that concerns no referral");
    }
  } else {
    const uint64_t number = CanonicalReferralNumber(f.referral_id);
    bool match = false;
    if (number != 0) {
      match = slot == number;
    } else if (slot == IndexTables::kOtherReferral) {
      auto it = t.referral_other.find(seq);
      match = it != t.referral_other.end() && it->second == f.referral_id;
    }
    if (!match && (indexed || slot != 0)) {
      REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
                 slot == 0 ? "by_referral has no entry for seq " + Seq(seq) + " (" + std::string(f.referral_id) + ")"
                           : "by_referral files seq " + Seq(seq) + " under another referral than " +
                                 std::string(f.referral_id));
    }
  }
  // by_destination
  const uint32_t dslot = t.destination[seq];
  if (f.destination.empty()) {
    if (dslot != 0) {
      REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
                 "by_destination names seq " + Seq(seq) + " under " + t.destination_names[dslot - 1] +
                     ", an event that concerns no destination");
    }
  } else if ((dslot == 0 && indexed) || (dslot != 0 && t.destination_names[dslot - 1] != f.destination)) {
    REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
               dslot == 0 ? "by_destination has no entry for seq " + Seq(seq) + " (" + std::string(f.destination) + ")"
                          : "by_destination files seq " + Seq(seq) + " under " + t.destination_names[dslot - 1] +
                                ", not " + std::string(f.destination));
  }
  // dedupe: a submission is found by (agency, reference); an append by
  // (agency, "append:" idempotency key).
  const bool has_dedupe = t.dedupe_length[seq] != 0;
  if (f.body == v1::Event::kReferralSubmitted) {
    if (!has_dedupe) {
      REFX_OFFER(*c, seq, LogProblem::kIndexMismatch, "the submission at seq " + Seq(seq) + " has no dedupe entry");
    } else if (!DedupeKeyMatches(t.DedupeKeyOf(seq), f.actor, f.reference, true)) {
      REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
                 "the dedupe entry naming seq " + Seq(seq) + " is not the submitting agency's (" +
                     std::string(f.actor) + ") key for its reference");
    }
  } else if (has_dedupe && !DedupeKeyMatches(t.DedupeKeyOf(seq), f.actor, kAppendKeyPrefix, false)) {
    REFX_OFFER(*c, seq, LogProblem::kIndexMismatch,
               "the dedupe entry naming seq " + Seq(seq) + " is not an append key of its actor " +
                   std::string(f.actor));
  }
}

// ---------------------------------------------------------------------------
// Checkpoints.

// Stored hashes captured at checkpoint seqs during the scan. Each worker
// writes only the entries of its own seq range.
struct CheckpointCapture {
  std::vector<uint64_t> seqs;  // sorted, unique
  std::vector<std::array<unsigned char, kHashBytes>> hashes;
  std::vector<char> captured;
};

// ---------------------------------------------------------------------------
// One worker: the events of seqs [lo, hi].

struct Shared {
  const EventLog* log = nullptr;
  const IndexTables* indexes = nullptr;  // null: indexes not checked
  CheckpointCapture* capture = nullptr;
  uint64_t n = 0;
  std::atomic<uint64_t> stop{kNoSeq};  // the earliest chain problem so far
  std::atomic<uint64_t> checked{0};

  void NoteChainProblem(uint64_t seq) {
    uint64_t cur = stop.load(std::memory_order_relaxed);
    while (seq < cur && !stop.compare_exchange_weak(cur, seq, std::memory_order_relaxed)) {
    }
  }
};

struct RangeResult {
  Finding chain;
  Finding index;
  uint64_t checked = 0;
  std::array<unsigned char, kHashBytes> last_hash{};
  uint64_t last_seq = 0;  // last seq whose link was verified
};

// True if event `seq`'s own slot does not hold event `seq`: it was moved.
bool Displaced(const EventLog& log, uint64_t seq, uint64_t n) {
  if (seq == 0 || seq > n) return false;
  StoredEvent ev;
  if (!log.Get(seq, &ev).ok()) return true;
  EventFields f;
  v1::Event scratch;
  return !ReadEventFields(ev.bytes, &scratch, &f) || f.seq != seq;
}

RangeResult VerifyRange(Shared* shared, uint64_t lo, uint64_t hi) {
  RangeResult r;
  const EventLog& log = *shared->log;
  std::string before_hash = GenesisHash();
  if (lo > 1) {
    StoredEvent before;
    before_hash = log.Get(lo - 1, &before).ok() ? before.hash : std::string();  // empty: unknown, not checked
  }
  ChainChecker chain(lo, before_hash);
  const CheckpointCapture& cap = *shared->capture;
  size_t ci = std::lower_bound(cap.seqs.begin(), cap.seqs.end(), lo) - cap.seqs.begin();
  v1::Event scratch;
  EventFields f;
  uint64_t pending_progress = 0;
  bool halted = false;  // stopped because of a problem (here or earlier elsewhere)
  auto chain_problem = [&](uint64_t seq, LogProblem p, std::string detail) {
    REFX_OFFER(r.chain, seq, p, std::move(detail));
    shared->NoteChainProblem(seq);
    halted = true;
    return false;
  };

  Status s = log.ScanFamily(
      "events", lo == 1 ? std::string() : EncodeSeq(lo), EncodeSeq(hi + 1), false,
      [&](std::string_view key, std::string_view value) {
        const uint64_t expected = chain.expected();
        if (expected > shared->stop.load(std::memory_order_relaxed)) {
          halted = true;
          return false;
        }
        if (key.size() != 8) {
          return chain_problem(expected, LogProblem::kAlteredBytes,
                               "a malformed key is stored among the events after seq " + Seq(expected - 1));
        }
        const uint64_t seq = DecodeSeq(key);
        if (value.size() < kHashBytes) {
          return chain_problem(seq, LogProblem::kAlteredBytes,
                               "the stored value of seq " + Seq(seq) + " is shorter than its hash");
        }
        const std::string_view bytes = value.substr(0, value.size() - kHashBytes);
        const std::string_view stored = value.substr(bytes.size());
        const ChainBreak link = chain.Feed(seq, bytes, stored);
        if (link == ChainBreak::kOutOfOrder) {
          return chain_problem(seq, LogProblem::kAlteredBytes, "an event is stored under seq " + Seq(seq));
        }
        if (link == ChainBreak::kMissing) {
          return chain_problem(expected, LogProblem::kMissingEvent,
                               "seq " + Seq(expected) + " is missing (the next stored event is seq " + Seq(seq) + ")");
        }
        // What the event says is checked before a broken link is reported:
        // an event that does not parse, or one moved from elsewhere, is
        // named as such rather than as a hash mismatch.
        if (!ReadEventFields(bytes, &scratch, &f)) {
          return chain_problem(seq, LogProblem::kAlteredBytes,
                               "the stored bytes of seq " + Seq(seq) + " do not parse as an event");
        }
        if (f.seq != seq) {
          if (Displaced(log, f.seq, shared->n)) {
            return chain_problem(seq, LogProblem::kReordered,
                                 "seq " + Seq(seq) + " holds the event of seq " + Seq(f.seq) +
                                     ", which is not in its place either (events moved or swapped)");
          }
          return chain_problem(seq, LogProblem::kAlteredBytes,
                               "the event stored at seq " + Seq(seq) + " records seq " + Seq(f.seq));
        }
        if (link == ChainBreak::kHashMismatch) {
          return chain_problem(seq, LogProblem::kAlteredBytes,
                               "chain hash mismatch at seq " + Seq(seq) + ": its stored bytes (or the stored hash of seq " +
                                   Seq(seq - 1) + ") were altered");
        }
        if (shared->indexes != nullptr) {
          shared->indexes->PrefetchDedupeKey(seq + 8);
          CheckEventIndexes(*shared->indexes, seq, f, seq <= log.indexed_seq(), &r.index);
        }
        while (ci < cap.seqs.size() && cap.seqs[ci] < seq) ++ci;
        if (ci < cap.seqs.size() && cap.seqs[ci] == seq) {
          auto* capture = shared->capture;
          std::memcpy(capture->hashes[ci].data(), stored.data(), kHashBytes);
          capture->captured[ci] = 1;
        }
        ++r.checked;
        r.last_seq = seq;
        if (++pending_progress == 4096) {
          shared->checked.fetch_add(pending_progress, std::memory_order_relaxed);
          pending_progress = 0;
        }
        return true;
      });
  shared->checked.fetch_add(pending_progress, std::memory_order_relaxed);
  const uint64_t expected = chain.expected();
  if (!s.ok() && !halted) {
    chain_problem(expected, LogProblem::kAlteredBytes, "RocksDB cannot read seq " + Seq(expected) + ": " + s.ToString());
  } else if (!halted && expected <= hi) {
    chain_problem(expected, LogProblem::kMissingEvent,
                  "seq " + Seq(expected) + " is missing (no event is stored from it to seq " + Seq(hi) + ")");
  }
  std::memcpy(r.last_hash.data(), chain.last_hash(), kHashBytes);
  return r;
}

// Parses, checks and collects the checkpoints; BAD_SIGNATURE problems go to
// *c.
std::vector<CheckpointRef> CollectCheckpoints(const EventLog& log, const VerifyOptions& options, Finding* c,
                                              uint64_t* examined) {
  std::vector<CheckpointRef> all;
  Status s = log.ScanCheckpoints([&](uint64_t seq, const std::string& bytes) {
    ++*examined;
    CheckpointRef ref;
    if (!ref.checkpoint.ParseFromString(bytes)) {
      REFX_OFFER(*c, seq, LogProblem::kBadSignature, "the checkpoint stored at seq " + Seq(seq) + " does not parse");
      return true;
    }
    if (ref.checkpoint.seq() != seq) {
      REFX_OFFER(*c, std::min(seq, ref.checkpoint.seq()), LogProblem::kBadSignature,
                 "the checkpoint stored at seq " + Seq(seq) + " is signed for seq " + Seq(ref.checkpoint.seq()));
      return true;
    }
    all.push_back(std::move(ref));
    return true;
  });
  if (!s.ok()) REFX_OFFER(*c, 0, LogProblem::kBadSignature, "cannot read the checkpoints: " + s.ToString());
  for (const v1::Checkpoint& t : options.trusted_checkpoints) {
    ++*examined;
    CheckpointRef ref;
    ref.checkpoint = t;
    ref.trusted = true;
    all.push_back(std::move(ref));
  }

  return AuthenticCheckpoints(std::move(all), options.signing_public_keys, c);
}

// Runs every task once on `threads` threads, the calling one included,
// each thread taking the next task not yet taken, so that a thread done
// early takes on more instead of idling; returns when all are done. With
// `poll`, the calling thread takes no task and calls poll() about ten times
// a second instead. Tasks must not throw.
void RunTasks(unsigned threads, const std::vector<std::function<void()>>& tasks,
              const std::function<void()>& poll = nullptr) {
  std::atomic<size_t> next{0};
  auto work = [&tasks, &next] {
    for (size_t i = next.fetch_add(1); i < tasks.size(); i = next.fetch_add(1)) tasks[i]();
  };
  const unsigned helpers = static_cast<unsigned>(std::min<size_t>(poll ? threads : threads - 1, tasks.size()));
  std::vector<std::future<void>> running;
  for (unsigned i = 0; i < helpers; ++i) running.push_back(std::async(std::launch::async, work));
  if (!poll) work();
  for (auto& r : running) {
    while (poll && r.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) poll();
    r.get();
  }
}

}  // namespace

LogVerifyReport VerifyLog(const EventLog& log, const VerifyOptions& options) {
  LogVerifyReport report;
  Finding found;
  InitCrypto();
  report.hash_accelerated = ChainHashAccelerated();
  report.checkpoints_authenticated = !options.signing_public_keys.empty();

  // The recorded head and the last stored event.
  const uint64_t head = log.head_seq();
  const std::string head_hash = log.head_hash();
  report.head_seq = head;
  uint64_t last = 0;
  bool junk_after_last = false;  // keys that are not seqs sort after the last event
  Status s = log.ScanFamily("events", "", "", true, [&](std::string_view key, std::string_view) {
    if (key.size() != 8) {
      junk_after_last = true;
      return true;
    }
    last = DecodeSeq(key);
    return false;
  });
  if (!s.ok()) REFX_OFFER(found, 1, LogProblem::kAlteredBytes, "RocksDB cannot read the events: " + s.ToString());
  if (junk_after_last) {
    REFX_OFFER(found, last + 1, LogProblem::kAlteredBytes,
               "a malformed key is stored among the events after seq " + Seq(last));
  }
  report.last_seq = last;
  // Seqs to scan: every stored one, but no further than a window past the
  // recorded head (events there are a head mismatch at head + 1 anyway).
  const uint64_t n = last > head && last - head > kBeyondHeadWindow ? head + kBeyondHeadWindow : last;

  // Threads: as asked, or one per core for logs big enough to gain from it.
  unsigned threads = options.threads;
  if (threads == 0) {
    constexpr uint64_t kMinPerThread = 20000;
    threads = std::min(std::max(1u, std::thread::hardware_concurrency()), 8u);
    threads = static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(threads, n / kMinPerThread)));
  }
  threads = std::min(threads, 64u);

  // Step 1, what the event scan needs first: the checkpoints (so the scan
  // can capture the hashes they vouch for) and the indexes (so it can check
  // each event against them), read side by side. Each task has its own
  // result; they are merged below in a fixed order, so the report does not
  // depend on which task ran first. The tasks are listed longest first (on
  // a typical log), so the threads finish step 1 at about the same time.
  if (options.progress) options.progress(0, n);
  std::vector<CheckpointRef> checkpoints;
  Finding checkpoint_problem;
  IndexTables indexes;
  indexes.n = n;
  LoadResult referral_load, destination_load, dedupe_load;
  std::vector<std::function<void()>> step1;
  if (options.check_indexes) {
    step1.push_back([&] { dedupe_load = LoadDedupeIndex(log, n, &indexes); });
    step1.push_back([&] { referral_load = LoadReferralIndex(log, n, &indexes); });
    step1.push_back([&] { destination_load = LoadDestinationIndex(log, n, &indexes); });
  }
  step1.push_back([&] {
    checkpoints = CollectCheckpoints(log, options, &checkpoint_problem, &report.checkpoints_checked);
  });
  RunTasks(threads, step1);
  found.Merge(checkpoint_problem);
  if (options.check_indexes) {
    report.index_entries_checked = referral_load.entries + destination_load.entries + dedupe_load.entries;
    for (const LoadResult* r : {&referral_load, &destination_load, &dedupe_load}) found.Merge(r->problem);
  }

  CheckpointCapture capture;
  for (const CheckpointRef& ref : checkpoints) {
    const uint64_t seq = ref.checkpoint.seq();
    if (seq <= n && (capture.seqs.empty() || capture.seqs.back() != seq)) capture.seqs.push_back(seq);
  }
  capture.hashes.resize(capture.seqs.size());
  capture.captured.assign(capture.seqs.size(), 0);

  // Step 2: the events, in seq ranges that the threads take in order (see
  // VerifyOptions::ranges_per_thread). Each range has its own result; they
  // are merged in seq order.
  Shared shared;
  shared.log = &log;
  shared.indexes = options.check_indexes ? &indexes : nullptr;
  shared.capture = &capture;
  shared.n = n;
  unsigned per_thread = std::min(options.ranges_per_thread, 64u);
  if (per_thread == 0) {
    constexpr uint64_t kMinRange = 50000;  // events; a range costs a lookup and a new iterator
    per_thread = threads == 1 ? 1 : static_cast<unsigned>(std::clamp<uint64_t>(n / threads / kMinRange, 1, 8));
  }
  const unsigned ranges = threads * per_thread;
  std::vector<RangeResult> results(ranges);
  if (n > 0) {
    std::vector<std::function<void()>> step2;
    for (unsigned i = 0; i < ranges; ++i) {
      const uint64_t lo = 1 + n * i / ranges;
      const uint64_t hi = n * (i + 1) / ranges;
      step2.push_back([&shared, &results, i, lo, hi] { results[i] = VerifyRange(&shared, lo, hi); });
    }
    std::function<void()> poll;
    if (options.progress) poll = [&] { options.progress(shared.checked.load(std::memory_order_relaxed), n); };
    RunTasks(threads, step2, poll);
  }
  if (options.progress) options.progress(shared.checked.load(std::memory_order_relaxed), n);

  Finding chain;
  for (const RangeResult& r : results) {
    report.events_checked += r.checked;
    chain.Merge(r.chain);
    found.Merge(r.index);
  }
  found.Merge(chain);
  const uint64_t chain_break = chain.problem == LogProblem::kNone ? kNoSeq : chain.seq;

  // The recorded head.
  if (last > head) {
    REFX_OFFER(found, head + 1, LogProblem::kHeadMismatch,
               "events are stored beyond the recorded head seq " + Seq(head) + " (the last is seq " + Seq(last) + ")");
  } else if (last < head) {
    REFX_OFFER(found, last + 1, LogProblem::kTruncated,
               "the log ends at seq " + Seq(last) + " but the recorded head is seq " + Seq(head));
  } else if (last > 0 && chain_break > last) {
    const RangeResult& tail = results.back();
    if (tail.last_seq == last &&
        (head_hash.size() != kHashBytes || std::memcmp(head_hash.data(), tail.last_hash.data(), kHashBytes) != 0)) {
      REFX_OFFER(found, last, LogProblem::kHeadMismatch,
                 "the recorded head hash differs from the chain hash of seq " + Seq(last));
    }
  }

  // The checkpoints against the recomputed chain.
  const uint64_t last_match = HoldCheckpointsAgainstChain(
      checkpoints, last,
      [&](uint64_t seq) -> const unsigned char* {
        if (seq > n || seq >= chain_break) return nullptr;  // reported otherwise
        const size_t i = std::lower_bound(capture.seqs.begin(), capture.seqs.end(), seq) - capture.seqs.begin();
        return i < capture.seqs.size() && capture.captured[i] ? capture.hashes[i].data() : nullptr;
      },
      "the log", /*beyond_last_explained=*/false, &found);
  report.last_checkpoint_seq = last_match;

  if (found.problem != LogProblem::kNone) {
    report.problem = found.problem;
    report.first_bad_seq = found.seq;
    report.detail = std::move(found.detail);
  }
  return report;
}

}  // namespace refx::eventlog
