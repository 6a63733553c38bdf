// Encryption at rest (eventlog/sealing.h, eventlog/event_log_sealing.cc):
// which fields are sealed, that sealing and opening give back the event,
// that a tampered or moved blob does not open, that data keys are written
// with their first event, and that a schema-1 (plaintext) log still opens,
// reads and verifies and is sealed only from the upgrade on.
#include "eventlog/sealing.h"

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>
#include <rocksdb/db.h>
#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/event_util.h"
#include "core/subject_key.h"
#include "eventlog/event_log.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"
#include "tests/unit/test_util.h"
#include "testsupport/audit_log_builder.h"

namespace refx::eventlog {
namespace {

using google::protobuf::util::MessageDifferencer;
using refx::testing::TempDir;

v1::Referral FullReferral() {
  v1::Referral r;
  r.set_referrer_reference("REF-1");
  r.set_category(v1::DOMESTIC_ABUSE);
  r.set_urgency(v1::URGENT);
  r.set_lawful_basis(v1::PUBLIC_TASK);
  r.mutable_referrer()->set_agency_id("police");
  r.mutable_referrer()->set_name("Sam Referrer");
  r.mutable_referrer()->set_phone("01632 960001");
  r.mutable_consent()->set_position(v1::CONSENT_NOT_SOUGHT);
  r.mutable_consent()->set_reason("Sister Ann Smith said so");
  auto* p = r.mutable_person();
  p->set_given_name("Alexa");
  p->set_family_name("Examplewood");
  p->add_aliases("Lex");
  p->set_date_of_birth("1990-04-01");
  p->set_address("1 Example Road");
  p->set_phone("07700 900001");
  p->set_children_in_household(true);
  p->set_gender(v1::FEMALE);
  p->mutable_special_category()->set_health("asthma");
  auto* a = r.mutable_assessment();
  a->set_tool(v1::DASH);
  for (int i = 0; i < 24; ++i) a->add_dash_answers(i < 15);
  a->set_score(15);
  a->set_risk_level(v1::HIGH);
  a->set_victim_fears("that he will find her");
  r.set_narrative("Synthetic narrative");
  r.mutable_perpetrator()->set_name("Pat Perp");
  r.mutable_perpetrator()->set_relationship("ex-partner");
  r.add_asb_incidents()->set_reference("ASB-1");
  r.add_asb_incidents()->set_reference("ASB-2");
  return r;
}

TEST(SplitPersonalFields, MovesPersonalFieldsAndMergesBackExactly) {
  const v1::Referral original = FullReferral();
  v1::Referral clear = original, personal;
  ASSERT_TRUE(SplitPersonalFields(&clear, &personal));
  // Clear: the envelope and routing flags only.
  EXPECT_EQ(clear.referrer_reference(), "REF-1");
  EXPECT_EQ(clear.category(), v1::DOMESTIC_ABUSE);
  EXPECT_EQ(clear.referrer().agency_id(), "police");
  EXPECT_EQ(clear.assessment().score(), 15u);
  EXPECT_EQ(clear.assessment().risk_level(), v1::HIGH);
  EXPECT_TRUE(clear.person().children_in_household());
  const std::string text = clear.SerializeAsString();
  for (const char* s : {"Alexa", "Examplewood", "Lex", "1990-04-01", "1 Example Road", "07700", "asthma",
                        "that he will", "Synthetic narrative", "Pat Perp", "Sam Referrer", "01632", "Ann Smith",
                        "ASB-1"}) {
    EXPECT_EQ(text.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(clear.assessment().dash_answers_size(), 0);
  EXPECT_EQ(personal.person().given_name(), "Alexa");
  EXPECT_EQ(personal.assessment().dash_answers_size(), 24);
  // Merged back: the original, repeated fields not doubled.
  v1::Referral merged = clear;
  merged.MergeFrom(personal);
  EXPECT_TRUE(MessageDifferencer::Equals(merged, original)) << merged.DebugString();
  EXPECT_EQ(merged.asb_incidents_size(), 2);
}

TEST(SplitPersonalFields, NothingPersonalMovesNothing) {
  v1::Referral clear;
  clear.set_referrer_reference("R");
  clear.set_category(v1::OTHER);
  clear.mutable_person()->set_children_in_household(true);
  v1::Referral personal;
  EXPECT_FALSE(SplitPersonalFields(&clear, &personal));
  EXPECT_EQ(personal.ByteSizeLong(), 0u);
}

v1::Event Submission(uint64_t seq, const std::string& id) {
  v1::Event e;
  e.set_seq(seq);
  e.mutable_referral_submitted()->set_referral_id(id);
  *e.mutable_referral_submitted()->mutable_referral() = FullReferral();
  return e;
}

// The writer's split over serialised bytes (SplitEventBytes +
// InsertSealedField) against the split by reflection (SealEvent): the same
// clear bytes, the same personal plaintext, the sealed field where
// protobuf's serialiser puts it, and an event that opens to the original.
void ExpectBytesSplitMatchesReflection(const v1::Event& original, const std::string& key_id) {
  const std::string bytes = original.SerializeAsString();
  std::string clear, personal;
  size_t sealed_at = 0;
  ASSERT_TRUE(SplitEventBytes(bytes, &clear, &personal, &sealed_at));
  v1::Event by_reflection = original;
  v1::Referral personal_fields;
  const bool moved = SplitPersonalFields(SealableReferral(&by_reflection), &personal_fields);
  EXPECT_EQ(!personal.empty(), moved);
  EXPECT_EQ(personal, personal_fields.SerializeAsString());
  EXPECT_EQ(clear, by_reflection.SerializeAsString());
  if (!moved) return;
  const std::string key = NewDataKey();
  const std::string nonce(kSealNonceBytes, '\x5a');
  InsertSealedField(key_id, key, reinterpret_cast<const unsigned char*>(nonce.data()), original, personal, sealed_at,
                    &clear);
  v1::Event sealed;
  ASSERT_TRUE(sealed.ParseFromString(clear));
  EXPECT_EQ(sealed.SerializeAsString(), clear);  // the serialiser's own order
  EXPECT_EQ(sealed.sealed().nonce(), nonce);
  EXPECT_EQ(sealed.sealed().key_id(), key_id);
  by_reflection.mutable_sealed()->CopyFrom(sealed.sealed());
  EXPECT_TRUE(MessageDifferencer::Equals(sealed, by_reflection));
  ASSERT_TRUE(OpenEvent(key, &sealed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(sealed, original)) << sealed.DebugString();
}

TEST(SplitEventBytes, GivesTheBytesOfTheSplitByReflection) {
  ASSERT_TRUE(InitCrypto());
  v1::Event submitted = Submission(7, "R-0000000007");
  submitted.set_actor("police");
  submitted.mutable_time()->set_seconds(1760000000);
  ExpectBytesSplitMatchesReflection(submitted, "R-0000000007");
  // Fields numbered after `sealed` (erased, subject_indexed's number): the
  // sealed field goes before them.
  v1::Event with_later = submitted;
  with_later.set_erased(true);
  ExpectBytesSplitMatchesReflection(with_later, "R-0000000007");
  // A delivery's view.
  v1::Event delivered;
  delivered.set_seq(9);
  delivered.mutable_case_delivered()->set_referral_id("R-0000000007");
  delivered.mutable_case_delivered()->set_destination("MARAC");
  delivered.mutable_case_delivered()->set_attempt(2);
  *delivered.mutable_case_delivered()->mutable_view() = FullReferral();
  ExpectBytesSplitMatchesReflection(delivered, "R-0000000007");
  // Nothing personal, and emptied messages kept present.
  v1::Event bare = Submission(8, "R-0000000008");
  v1::Referral* r = bare.mutable_referral_submitted()->mutable_referral();
  r->Clear();
  r->set_referrer_reference("R");
  r->mutable_person()->set_children_in_household(true);
  ExpectBytesSplitMatchesReflection(bare, "R-0000000008");
  r->mutable_person()->set_given_name("Alexa");
  ExpectBytesSplitMatchesReflection(bare, "R-0000000008");
}

TEST(SplitEventBytes, DeclinesWhatTheSplitByReflectionWouldSeeDifferently) {
  std::string clear, personal;
  size_t at = 0;
  v1::Event event = Submission(7, "R-0000000007");
  // A field the schema does not know, inside the referral: Split keeps it
  // clear; the writer falls back to it.
  v1::Referral* r = event.mutable_referral_submitted()->mutable_referral();
  r->GetReflection()->MutableUnknownFields(r)->AddLengthDelimited(999, "Alexa");
  EXPECT_FALSE(SplitEventBytes(event.SerializeAsString(), &clear, &personal, &at));
  // Sealed already, no sealable body, malformed bytes.
  v1::Event sealed = Submission(7, "R-0000000007");
  sealed.mutable_sealed()->set_key_id("R-0000000007");
  EXPECT_FALSE(SplitEventBytes(sealed.SerializeAsString(), &clear, &personal, &at));
  v1::Event routed;
  routed.set_seq(3);
  routed.mutable_case_routed()->set_referral_id("R-0000000001");
  EXPECT_FALSE(SplitEventBytes(routed.SerializeAsString(), &clear, &personal, &at));
  std::string cut = Submission(7, "R-0000000007").SerializeAsString();
  cut.resize(cut.size() - 3);
  EXPECT_FALSE(SplitEventBytes(cut, &clear, &personal, &at));
}

TEST(SealEvent, RoundTripsAndRefusesTamperingAMovedBlobAndAWrongKey) {
  ASSERT_TRUE(InitCrypto());
  const std::string key = NewDataKey();
  const v1::Event original = Submission(7, "R-0000000007");
  v1::Event sealed = original;
  ASSERT_TRUE(SealEvent("R-0000000007", key, &sealed));
  EXPECT_TRUE(sealed.has_sealed());
  EXPECT_TRUE(EventLog::IsSealed(sealed.SerializeAsString()));
  EXPECT_FALSE(EventLog::IsSealed(original.SerializeAsString()));
  EXPECT_EQ(sealed.SerializeAsString().find("Alexa"), std::string::npos);
  v1::Event opened = sealed;
  ASSERT_TRUE(OpenEvent(key, &opened).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(opened, original));

  v1::Event tampered = sealed;
  (*tampered.mutable_sealed()->mutable_ciphertext())[3] ^= 1;
  EXPECT_EQ(OpenEvent(key, &tampered).code(), Status::Code::kCorruption);
  v1::Event moved = sealed;
  moved.set_seq(8);  // the associated data names seq 7
  EXPECT_EQ(OpenEvent(key, &moved).code(), Status::Code::kCorruption);
  v1::Event wrong = sealed;
  EXPECT_EQ(OpenEvent(NewDataKey(), &wrong).code(), Status::Code::kCorruption);
  EXPECT_TRUE(wrong.has_sealed());  // untouched on failure
}

TEST(DataKeyWrap, UnwrapsOnlyWithTheMasterKeyAndItsReferral) {
  ASSERT_TRUE(InitCrypto());
  const std::string master(kMasterKeyBytes, 'm'), data = NewDataKey();
  const std::string wrapped = WrapDataKey(master, "R-1", data);
  EXPECT_EQ(wrapped.size(), 72u);
  std::string out;
  ASSERT_TRUE(UnwrapDataKey(master, "R-1", wrapped, &out).ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(UnwrapDataKey(master, "R-2", wrapped, &out).code(), Status::Code::kCorruption);
  EXPECT_EQ(UnwrapDataKey(std::string(kMasterKeyBytes, 'x'), "R-1", wrapped, &out).code(), Status::Code::kCorruption);
}

TEST(MasterKeyFile, RefusesAFileOthersMayReadAndLoadsA0600One) {
  TempDir dir;
  const std::string path = dir.path() + "/master.key";
  ASSERT_TRUE(GenerateSecretKeyFile(path, "master key").ok());
  std::string key;
  ASSERT_TRUE(LoadMasterKeyFile(path, &key).ok());
  EXPECT_EQ(key.size(), kMasterKeyBytes);
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  Status s = LoadMasterKeyFile(path, &key);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(s.message().find("mode 0604"), std::string::npos) << s.message();
  EXPECT_EQ(LoadMasterKeyFile(dir.path() + "/absent", &key).code(), Status::Code::kIoError);
}

PendingEvent Pending(v1::Event e) {
  PendingEvent p;
  p.event = std::move(e);
  return p;
}

std::unique_ptr<EventLog> OpenLog(const std::string& path, const std::string& master, bool read_only = false) {
  OpenOptions open;
  open.path = path;
  open.master_key = master;
  open.read_only = read_only;
  open.create_if_missing = !read_only;
  std::unique_ptr<EventLog> log;
  Status s = EventLog::Open(open, &log);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return log;
}

// Marks the closed log at `path` as written under `schema` ("1": also
// without the data_keys family), as a log from before that schema was.
void MakeOlderSchema(const std::string& path, const std::string& schema) {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : ColumnFamilyNames()) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < descriptors.size(); ++i) {
    if (descriptors[i].name == "meta") {
      ASSERT_TRUE(db->Put({}, handles[i], "schema", schema).ok());
    } else if (descriptors[i].name == "data_keys" && schema == "1") {
      ASSERT_TRUE(db->DropColumnFamily(handles[i]).ok());
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  ASSERT_TRUE(db->Close().ok());
}

// After an upgrade at seq 2: event 1 stays as written, event 2 is sealed,
// and the chain verifies.
void ExpectOldClearNewSealed(const EventLog& log) {
  StoredEvent first, second;
  ASSERT_TRUE(log.Get(1, &first).ok());
  ASSERT_TRUE(log.Get(2, &second).ok());
  EXPECT_FALSE(EventLog::IsSealed(first.bytes));
  EXPECT_TRUE(EventLog::IsSealed(second.bytes));
  EXPECT_TRUE(log.VerifyChain().ok);
}

TEST(SealingLog, KeyWrittenWithItsFirstEventOpenedForReadersAndDestroyedByErasure) {
  TempDir dir;
  const std::string master(kMasterKeyBytes, 'k');
  auto log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->AppendBatch({Pending(Submission(1, "R-0000000001"))}).ok());
  EXPECT_TRUE(log->HasDataKey("R-0000000001").ok());
  StoredEvent stored;
  ASSERT_TRUE(log->Get(1, &stored).ok());
  EXPECT_TRUE(EventLog::IsSealed(stored.bytes));
  v1::Event out;
  bool opened = false;
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_TRUE(opened);
  EXPECT_EQ(out.referral_submitted().referral().person().given_name(), "Alexa");
  EXPECT_TRUE(log->VerifyChain().ok);

  // Reopened: the key comes from data_keys.
  log.reset();
  log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_EQ(out.referral_submitted().referral().narrative(), "Synthetic narrative");
  // Without the master key the event reads as not opened.
  log.reset();
  log = OpenLog(dir.path(), "");
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_TRUE(out.erased());
  EXPECT_TRUE(out.referral_submitted().referral().person().given_name().empty());

  // Erasure: the key is deleted with the subject_erased event.
  log.reset();
  log = OpenLog(dir.path(), master);
  v1::Event erased;
  erased.set_seq(2);
  erased.mutable_subject_erased()->set_referral_id("R-0000000001");
  erased.mutable_subject_erased()->set_reason("test");
  PendingEvent p = Pending(erased);
  p.erase_data_key = "R-0000000001";
  ASSERT_TRUE(log->AppendBatch({p}).ok());
  EXPECT_EQ(log->HasDataKey("R-0000000001").code(), Status::Code::kNotFound);
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_TRUE(out.erased());
  ASSERT_TRUE(log->PurgeDestroyedKeys().ok());
  EXPECT_TRUE(log->VerifyChain().ok);
}

TEST(SealingLog, AFailedBatchForgetsTheKeysItMade) {
  TempDir dir;
  auto log = OpenLog(dir.path(), std::string(kMasterKeyBytes, 'k'));
  // The second event has the wrong seq: the batch fails, nothing is kept.
  EXPECT_FALSE(log->AppendBatch({Pending(Submission(1, "R-0000000001")), Pending(Submission(5, "R-0000000005"))}).ok());
  EXPECT_EQ(log->HasDataKey("R-0000000001").code(), Status::Code::kNotFound);
  EXPECT_EQ(log->head_seq(), 0u);
  // The same event again, alone: its key is written with it (not taken
  // from the failed batch unwritten), so it opens after a reopen too.
  ASSERT_TRUE(log->AppendBatch({Pending(Submission(1, "R-0000000001"))}).ok());
  log.reset();
  log = OpenLog(dir.path(), std::string(kMasterKeyBytes, 'k'));
  EXPECT_TRUE(log->HasDataKey("R-0000000001").ok());
  StoredEvent stored;
  ASSERT_TRUE(log->Get(1, &stored).ok());
  v1::Event out;
  bool opened = false;
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_FALSE(out.erased());
  EXPECT_EQ(out.referral_submitted().referral().person().given_name(), "Alexa");
}

TEST(SealingLog, ASchemaOneLogOpensReadsVerifiesAndIsSealedOnlyFromTheUpgrade) {
  TempDir dir;
  {
    // A log as written before encryption at rest: plaintext events, no
    // data_keys family, schema "1".
    auto log = OpenLog(dir.path(), "");
    ASSERT_TRUE(log->AppendBatch({Pending(Submission(1, "R-0000000001"))}).ok());
  }
  MakeOlderSchema(dir.path(), "1");
  const std::string master(kMasterKeyBytes, 'k');
  {
    // Read-only (an offline audit): opens without the family, reads the
    // plaintext event, verifies.
    auto log = OpenLog(dir.path(), master, /*read_only=*/true);
    ASSERT_TRUE(log);
    StoredEvent stored;
    ASSERT_TRUE(log->Get(1, &stored).ok());
    v1::Event out;
    bool opened = true;
    ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
    EXPECT_FALSE(opened);
    EXPECT_EQ(out.referral_submitted().referral().person().given_name(), "Alexa");
    EXPECT_TRUE(log->VerifyChain().ok);
  }
  // Opened for writing with a master key: upgraded to schema 3, sealing
  // from seq 2; the old event stays as written.
  auto log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->AppendBatch({Pending(Submission(2, "R-0000000002"))}).ok());
  ExpectOldClearNewSealed(*log);
  std::string schema, from;
  ASSERT_TRUE(log->ScanFamily("meta", "", "", false, [&](std::string_view k, std::string_view v) {
    if (k == "schema") {
      schema.assign(v);
    } else if (k == "sealed_from_seq") {
      from.assign(v);
    }
    return true;
  }).ok());
  EXPECT_EQ(schema, "3");
  ASSERT_EQ(from.size(), 8u);
  EXPECT_EQ(DecodeSeq(from), 2u);
  EXPECT_EQ(log->HasDataKey("R-0000000001").code(), Status::Code::kNotFound);
}

v1::Event Indexed(uint64_t seq, const std::string& id, const std::string& key) {
  v1::Event e;
  e.set_seq(seq);
  e.mutable_subject_indexed()->set_referral_id(id);
  e.mutable_subject_indexed()->set_subject_key(key);
  return e;
}

const std::string kSubjectA(64, 'a');
const std::string kSubjectB(64, 'b');

TEST(SealingLog, SubjectHashSealedUnderAHistoryKeyThatOutlivesTheDataKeyAndTakesItsIndexEntries) {
  TempDir dir;
  const std::string master(kMasterKeyBytes, 'k');
  auto log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->AppendBatch({Pending(Submission(1, "R-0000000001")), Pending(Indexed(2, "R-0000000001", kSubjectA)),
                                Pending(Submission(3, "R-0000000003")), Pending(Indexed(4, "R-0000000003", kSubjectB))})
                  .ok());
  // The history key is its own entry, written with the event; the stored
  // event holds no hash, the index does, readers get it back.
  EXPECT_TRUE(log->HasHistoryKey("R-0000000001").ok());
  StoredEvent stored;
  ASSERT_TRUE(log->Get(2, &stored).ok());
  EXPECT_TRUE(EventLog::IsSealed(stored.bytes));
  EXPECT_EQ(stored.bytes.find(kSubjectA), std::string::npos);
  v1::Event out;
  bool opened = false;
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_EQ(out.subject_indexed().subject_key(), kSubjectA);
  EXPECT_EQ(out.sealed().key_id(), "");
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForSubject(kSubjectA, &seqs).ok());
  EXPECT_EQ(seqs, std::vector<uint64_t>{2});

  // Erasing the record keeps the hash.
  v1::Event erase_record;
  erase_record.set_seq(5);
  erase_record.mutable_subject_erased()->set_referral_id("R-0000000001");
  PendingEvent p = Pending(erase_record);
  p.erase_data_key = "R-0000000001";
  ASSERT_TRUE(log->AppendBatch({p}).ok());
  EXPECT_EQ(log->HasDataKey("R-0000000001").code(), Status::Code::kNotFound);
  EXPECT_TRUE(log->HasHistoryKey("R-0000000001").ok());
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_EQ(out.subject_indexed().subject_key(), kSubjectA);

  // Destroying the history key: the event reads erased, the index entry
  // goes; the other referral's stay.
  v1::Event erase_history;
  erase_history.set_seq(6);
  erase_history.mutable_subject_erased()->set_referral_id("R-0000000001");
  erase_history.mutable_subject_erased()->set_history_key(true);
  p = Pending(erase_history);
  p.erase_history_key = "R-0000000001";
  ASSERT_TRUE(log->AppendBatch({p}).ok());
  EXPECT_EQ(log->HasHistoryKey("R-0000000001").code(), Status::Code::kNotFound);
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_TRUE(out.erased());
  EXPECT_TRUE(out.subject_indexed().subject_key().empty());
  EXPECT_EQ(out.subject_indexed().referral_id(), "R-0000000001");
  ASSERT_TRUE(log->SeqsForSubject(kSubjectA, &seqs).ok());
  EXPECT_TRUE(seqs.empty());
  ASSERT_TRUE(log->SeqsForSubject(kSubjectB, &seqs).ok());
  EXPECT_EQ(seqs, std::vector<uint64_t>{4});
  ASSERT_TRUE(log->PurgeDestroyedKeys().ok());
  EXPECT_TRUE(log->VerifyChain().ok);
  // Reopened: still erased (the key is gone from data_keys, not only the cache).
  log.reset();
  log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->OpenStored(stored.bytes, &out, &opened).ok());
  EXPECT_TRUE(out.erased());
}

TEST(SealingLog, ASubjectHashWrittenInClearBeforeSchemaThreeStaysReadableVerifiesAndLosesItsIndexEntry) {
  TempDir dir;
  const std::string master(kMasterKeyBytes, 'k');
  {
    // Written as before history keys: the subject hash in clear.
    auto log = OpenLog(dir.path(), "");
    ASSERT_TRUE(log->AppendBatch({Pending(Indexed(1, "R-0000000001", kSubjectA))}).ok());
  }
  MakeOlderSchema(dir.path(), "2");
  auto log = OpenLog(dir.path(), master);
  ASSERT_TRUE(log->AppendBatch({Pending(Indexed(2, "R-0000000002", kSubjectB))}).ok());
  ExpectOldClearNewSealed(*log);
  std::string from;
  ASSERT_TRUE(log->ScanFamily("meta", "", "", false, [&](std::string_view k, std::string_view v) {
    if (k == "history_sealed_from_seq") from.assign(v);
    return true;
  }).ok());
  ASSERT_EQ(from.size(), 8u);
  EXPECT_EQ(DecodeSeq(from), 2u);
  // Its by_subject entry can still be taken away (the chain keeps the
  // event as written).
  v1::Event erase_history;
  erase_history.set_seq(3);
  erase_history.mutable_subject_erased()->set_referral_id("R-0000000001");
  erase_history.mutable_subject_erased()->set_history_key(true);
  PendingEvent p = Pending(erase_history);
  p.erase_history_key = "R-0000000001";
  ASSERT_TRUE(log->AppendBatch({p}).ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForSubject(kSubjectA, &seqs).ok());
  EXPECT_TRUE(seqs.empty());
  EXPECT_TRUE(log->VerifyChain().ok);
}

}  // namespace
}  // namespace refx::eventlog
