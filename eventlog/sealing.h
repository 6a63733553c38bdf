// Sealing: encryption at rest of a referral's personal fields, with one
// data key per referral (crypto-shredding: destroying the key erases the
// fields while the hash chain, which covers the sealed bytes, still
// verifies). See docs/SECURITY.md.
//
//   * Which fields: SplitPersonalFields (by the schema's field options).
//   * Sealing: the personal fields, serialised as a refx.v1.Referral that
//     holds only them, are encrypted with XChaCha20-Poly1305 (libsodium
//     crypto_aead_xchacha20poly1305_ietf) under the referral's data key; the
//     associated data binds the ciphertext to the event's seq, body type and
//     key id, so a sealed blob cannot be moved to another event unnoticed.
//   * Data keys: 32 random bytes per referral, stored wrapped (the same
//     AEAD, under the master key, the referral id as associated data) in the
//     event log's data_keys column family, in the write batch of the first
//     event that uses them.
//   * History keys: the personal part of a subject_indexed event (the
//     router's keyed subject hash) is sealed the same way under a second
//     key per referral, stored in data_keys under HistoryKeyId(referral),
//     so that the hash lives as long as the ROUTING_HISTORY retention and
//     not as long as the referral's record (or its erasure) says.
//   * Master key: 32 bytes as 64 hexadecimal characters in a file that
//     only its owner may read (LoadMasterKeyFile refuses any other mode).
//
// Nothing here logs; keys and plaintext never appear in Status messages.
// Thread-safety: pure functions, safe from several threads (libsodium must
// be initialised: InitCrypto).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "refx/v1/event.pb.h"

namespace refx::eventlog {

inline constexpr size_t kDataKeyBytes = 32;
inline constexpr size_t kMasterKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 24;  // XChaCha20-Poly1305's nonce

// Moves every personal field of *clear into *personal (which must be
// empty), leaving the rest in *clear; *personal gets only the message
// fields it needs, so it serialises to nothing when nothing was moved.
// clear.MergeFrom(personal) gives back the original. A field is personal
// when its (refx.v1.field_group) is SUBJECT_IDENTITY, SUBJECT_CONTACT,
// NARRATIVE, SPECIAL_CATEGORY or CRIMINAL_OFFENCE, when it carries any
// (refx.v1.marking), or when it is text outside the ENVELOPE group (free
// text may name people), as are the consent reasons. Message fields
// without a group are descended into (a repeated one moves whole if any of
// its fields is personal). Returns whether anything was moved.
bool SplitPersonalFields(v1::Referral* clear, v1::Referral* personal);

// The referral an event carries for sealing (a submission's referral, a
// delivery's view), or null for other events.
v1::Referral* SealableReferral(v1::Event* event);

// The name in data_keys of `referral_id`'s history key ("history:" and the
// id; referral ids start "R-", so the two never meet), and whether a
// data_keys name is one. A referral's history key seals its
// subject_indexed events; its data key everything else.
std::string HistoryKeyId(const std::string& referral_id);
bool IsHistoryKeyId(std::string_view key_id);
// The referral id a data_keys name belongs to (either kind).
std::string ReferralOfKeyId(std::string_view key_id);

// Seals the subject key of a subject_indexed event under `history_key`
// (kDataKeyBytes), keyed by `key_id` (HistoryKeyId of its referral): it
// moves into event->sealed. The event's seq must be set. Returns whether
// anything was sealed (false, event untouched, for another event or an
// empty subject key).
bool SealSubjectKey(const std::string& key_id, const std::string& history_key, v1::Event* event);

// Seals the personal fields of `event`'s referral (SealableReferral) under
// `data_key` (kDataKeyBytes), keyed by `key_id` (the referral id): they
// move into event->sealed. The event's seq and body must be set. Returns
// whether anything was sealed (false, event untouched, when the event has
// no sealable referral or the referral no personal field).
bool SealEvent(const std::string& key_id, const std::string& data_key, v1::Event* event);
// The second half of SealEvent: encrypts `personal` (what SplitPersonalFields
// moved out of the event's referral) into event->sealed.
void SealPersonalFields(const std::string& key_id, const std::string& data_key, const v1::Referral& personal,
                        v1::Event* event);

// Opens event->sealed with `data_key` (the history key for a
// subject_indexed event): merges the personal fields back and clears
// `sealed`. Corruption when the ciphertext, nonce or associated data
// do not authenticate (altered bytes, a wrong key, a blob moved to another
// event); the event is then untouched.
Status OpenEvent(const std::string& data_key, v1::Event* event);

// Wraps a data key under the master key for `key_id` (nonce || ciphertext),
// and unwraps it: Corruption when it does not authenticate.
// `nonce` (kSealNonceBytes of fresh randomness), or null to draw one.
std::string WrapDataKey(const std::string& master_key, const std::string& key_id, const std::string& data_key,
                        const unsigned char* nonce = nullptr);
Status UnwrapDataKey(const std::string& master_key, const std::string& key_id, const std::string& wrapped,
                     std::string* data_key);

// The same sealing over serialised bytes, for the writer (no copy of the
// event, no reflection). SplitEventBytes takes `event_bytes` (protobuf's
// serialisation of an event, unsealed) and gives *clear_event, the event's
// bytes with its referral's personal fields taken out, *personal, those
// fields serialised as a refx.v1.Referral (empty when nothing is
// personal), and *sealed_at, where in *clear_event the sealed field goes
// (before the first field numbered after it). Returns false, the outputs
// unspecified, when the bytes hold what it does not handle (no sealable
// referral, a field the schema does not know, sealed already, malformed):
// the caller then uses SealEvent. InsertSealedField then encrypts
// `personal` as SealPersonalFields does, with `nonce` (kSealNonceBytes,
// fresh random), and inserts the sealed field at sealed_at. Together they
// give the bytes SealEvent and serialisation give, byte for byte.
bool SplitEventBytes(std::string_view event_bytes, std::string* clear_event, std::string* personal,
                     size_t* sealed_at);
void InsertSealedField(const std::string& key_id, const std::string& data_key, const unsigned char* nonce,
                       const v1::Event& event, std::string_view personal, size_t sealed_at, std::string* clear_event);

// A new random data key.
std::string NewDataKey();

// Reads the master key file (64 hexadecimal characters). PermissionDenied,
// naming the file and its mode, when its group or others may read or write
// it; IoError when it cannot be read; InvalidArgument when it is malformed.
Status LoadMasterKeyFile(const std::string& path, std::string* master_key);
// (A new one is written by core's GenerateSecretKeyFile(path, "master
// key"): `refx keys gen-master-key`.)

}  // namespace refx::eventlog
