// Subject keys: a keyed hash (HMAC-SHA256, libsodium) of a referral
// subject's normalised identity, so that the router can tell that two
// referrals are about the same person or context (repeat MARAC referrals)
// without storing names or dates of birth. Without the secret key the hash
// cannot be recomputed from a guessed name and date of birth.
//
// The secret key file holds 32 random bytes as 64 hexadecimal characters
// on one line (mode 0600). Losing or replacing it breaks repeat detection
// for the history recorded under the old key.
//
// Nothing here logs; identities and keys never appear in Status messages.
// Thread-safety: pure functions and file I/O; safe from several threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"
#include "refx/v1/referral.pb.h"

namespace refx {

// Size of the secret key in bytes.
inline constexpr size_t kSubjectSecretBytes = 32;

// Lower-cases the ASCII letters of `text` and drops every other ASCII
// character (spaces, hyphens, apostrophes, digits...); bytes outside ASCII
// (UTF-8 sequences) are kept as they are. "  Alex  O'Brien-Smith" gives
// "alexobriensmith".
std::string NormaliseName(std::string_view text);

// The normalised identity that SubjectKey hashes; "" when there is none.
//   person:  "p|" NormaliseName(given_name + family_name) "|" date_of_birth
//            ("" when the name normalises to nothing or the date of birth is
//            missing or not a YYYY-MM-DD date)
//   context: "c|" kind name "|" NormaliseName(name) "|" NormaliseName(ward)
//            ("" when the name normalises to nothing)
// The result is personal data: never log or store it.
std::string SubjectIdentity(const v1::Referral& referral);

// Lower-case hex HMAC-SHA256 (64 characters) of SubjectIdentity(referral)
// under `secret`, or "" when the identity is "" or `secret` is not
// kSubjectSecretBytes bytes long.
std::string SubjectKey(const std::string& secret, const v1::Referral& referral);

// The subject key of a person given as one name (given and family names
// together, as a searcher types them) and a date of birth: the same key
// SubjectKey gives a referral whose person has that name split anywhere
// between given_name and family_name, with the same tolerance of spacing,
// case and punctuation (NormaliseName). OK with *key set; InvalidArgument
// naming the field when the name has no letters or the date of birth is
// not a YYYY-MM-DD date, or when `secret` is not kSubjectSecretBytes long.
// Neither the name nor the date appears in a message.
Status PersonSubjectKey(const std::string& secret, const std::string& name, const std::string& date_of_birth,
                        std::string* key);

// Loads the subject key a partnership configuration names: `key_file` as
// its subject_key_file says (relative to the configuration file's folder,
// `config_path`). InvalidArgument when the configuration names none; else
// as LoadSubjectKeyFile.
Status LoadConfiguredSubjectKey(const std::string& key_file, const std::string& config_path, std::string* secret);
// The path LoadConfiguredSubjectKey reads.
std::string ConfiguredSubjectKeyPath(const std::string& key_file, const std::string& config_path);

// Reads a subject key file into *secret (kSubjectSecretBytes raw bytes).
// Surrounding white space is ignored. Returns IoError when the file cannot
// be read and InvalidArgument naming the file when it does not hold exactly
// 64 hexadecimal characters. The key itself never appears in a message.
Status LoadSubjectKeyFile(const std::string& path, std::string* secret);

// Writes a new random key to `path` (mode 0600, creating the parent
// folder). Refuses (InvalidArgument) to overwrite an existing file, since
// that would break repeat detection; IoError when it cannot write.
Status GenerateSubjectKeyFile(const std::string& path);

// The same for any 32-byte secret kept as 64 hexadecimal characters
// (the broker's master key too); `what` names it in messages ("subject key").
Status LoadSecretKeyFile(const std::string& path, const std::string& what, std::string* secret);
Status GenerateSecretKeyFile(const std::string& path, const std::string& what);

}  // namespace refx
