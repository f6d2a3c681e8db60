// KV interop with nats.c against an embedded ferryd, and a restart: streams, durable consumers
// and KV buckets survive, and a consumer resumes after its last acknowledgement.
#include <set>
#include <vector>

#include "nats_c_js_util.h"

namespace ferry::test::js {
namespace {

class NatsCKv : public js_test {
 protected:
  kv_ptr bucket(const char* name, uint8_t history, int64_t ttl_ns = 0) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name;
    cfg.History = history;
    cfg.TTL = ttl_ns;
    kvStore* kv = nullptr;
    EXPECT_EQ(js_CreateKeyValue(&kv, js, &cfg), NATS_OK) << nats_GetLastError(nullptr);
    return kv_ptr(kv);
  }
};

entry_ptr get(kvStore* kv, const char* key, natsStatus* st = nullptr) {
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv, key);
  if (st != nullptr) *st = s;
  return entry_ptr(s == NATS_OK ? e : nullptr);
}

std::string value_of(kvEntry* e) {
  return {static_cast<const char*>(kvEntry_Value(e)), static_cast<std::size_t>(kvEntry_ValueLen(e))};
}

TEST_F(NatsCKv, PutGetCreateUpdateDeletePurge) {
  auto kv = bucket("cfg", 5);
  ASSERT_NE(kv, nullptr);
  uint64_t rev = 0;
  ASSERT_EQ(kvStore_PutString(&rev, kv.get(), "a", "1"), NATS_OK);
  EXPECT_EQ(rev, 1u);
  auto e = get(kv.get(), "a");
  ASSERT_TRUE(e);
  EXPECT_STREQ(kvEntry_Bucket(e.get()), "cfg");
  EXPECT_STREQ(kvEntry_Key(e.get()), "a");
  EXPECT_EQ(value_of(e.get()), "1");
  EXPECT_EQ(kvEntry_Revision(e.get()), 1u);
  EXPECT_EQ(kvEntry_Operation(e.get()), kvOp_Put);
  EXPECT_GT(kvEntry_Created(e.get()), 0);

  // Create only when absent.
  EXPECT_NE(kvStore_CreateString(&rev, kv.get(), "a", "x"), NATS_OK) << "a exists";
  ASSERT_EQ(kvStore_CreateString(&rev, kv.get(), "b", "B"), NATS_OK);
  EXPECT_EQ(rev, 2u);
  // Update only from the right revision.
  ASSERT_EQ(kvStore_UpdateString(&rev, kv.get(), "a", "2", 1), NATS_OK);
  EXPECT_EQ(rev, 3u);
  EXPECT_NE(kvStore_UpdateString(&rev, kv.get(), "a", "3", 1), NATS_OK) << "stale revision";
  EXPECT_EQ(value_of(get(kv.get(), "a").get()), "2");
  kvEntry* old = nullptr;
  ASSERT_EQ(kvStore_GetRevision(&old, kv.get(), "a", 1), NATS_OK);
  entry_ptr old_holder(old);
  EXPECT_EQ(value_of(old), "1");

  // Delete leaves a marker: Get says not found, Create works again.
  ASSERT_EQ(kvStore_Delete(kv.get(), "b"), NATS_OK);
  natsStatus st = NATS_OK;
  EXPECT_FALSE(get(kv.get(), "b", &st));
  EXPECT_EQ(st, NATS_NOT_FOUND);
  ASSERT_EQ(kvStore_CreateString(&rev, kv.get(), "b", "again"), NATS_OK) << "create over a delete marker";
  EXPECT_EQ(rev, 5u);

  // History keeps the last 5 revisions of a key.
  for (int i = 3; i <= 8; ++i) kvStore_PutString(&rev, kv.get(), "a", std::to_string(i).c_str());
  kvEntryList hist{};
  ASSERT_EQ(kvStore_History(&hist, kv.get(), "a", nullptr), NATS_OK);
  std::vector<std::string> values;
  for (int i = 0; i < hist.Count; ++i) values.push_back(value_of(hist.Entries[i]));
  kvEntryList_Destroy(&hist);
  EXPECT_EQ(values, (std::vector<std::string>{"4", "5", "6", "7", "8"}));

  // Purge drops the history and leaves one marker.
  ASSERT_EQ(kvStore_Purge(kv.get(), "a", nullptr), NATS_OK);
  EXPECT_FALSE(get(kv.get(), "a", &st));
  EXPECT_EQ(st, NATS_NOT_FOUND);
  ASSERT_EQ(kvStore_History(&hist, kv.get(), "a", nullptr), NATS_OK);
  ASSERT_EQ(hist.Count, 1);
  EXPECT_EQ(kvEntry_Operation(hist.Entries[0]), kvOp_Purge);
  kvEntryList_Destroy(&hist);

  ASSERT_EQ(kvStore_PutString(&rev, kv.get(), "c.d", "nested"), NATS_OK);
  kvKeysList keys{};
  ASSERT_EQ(kvStore_Keys(&keys, kv.get(), nullptr), NATS_OK);
  std::set<std::string> ks;
  for (int i = 0; i < keys.Count; ++i) ks.insert(keys.Keys[i]);
  kvKeysList_Destroy(&keys);
  EXPECT_EQ(ks, (std::set<std::string>{"b", "c.d"})) << "deleted and purged keys are not listed";

  kvStatus* status = nullptr;
  ASSERT_EQ(kvStore_Status(&status, kv.get()), NATS_OK);
  EXPECT_STREQ(kvStatus_Bucket(status), "cfg");
  EXPECT_EQ(kvStatus_History(status), 5);
  EXPECT_EQ(kvStatus_Values(status), 5u) << "b's three revisions, the purge marker of a, c.d";
  kvStatus_Destroy(status);

  // The bucket is a stream with the KV layout.
  auto si = stream_info(js, "KV_cfg");
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->Config->MaxMsgsPerSubject, 5);
  EXPECT_TRUE(si->Config->AllowRollup);
  EXPECT_TRUE(si->Config->DenyDelete);
  ASSERT_EQ(si->Config->SubjectsLen, 1);
  EXPECT_STREQ(si->Config->Subjects[0], "$KV.cfg.>");
}

entry_ptr next_entry(kvWatcher* w, natsStatus* st, int64_t ms = 3000) {
  kvEntry* e = nullptr;
  *st = kvWatcher_Next(&e, w, ms);
  return entry_ptr(e);
}

TEST_F(NatsCKv, WatchInitialValuesUpdatesAndDeleteMarkers) {
  auto kv = bucket("w", 3);
  uint64_t rev = 0;
  kvStore_PutString(&rev, kv.get(), "x.1", "one");
  kvStore_PutString(&rev, kv.get(), "x.1", "uno");
  kvStore_PutString(&rev, kv.get(), "y", "why");
  kvStore_PutString(&rev, kv.get(), "x.2", "two");
  kvStore_Delete(kv.get(), "x.2");

  kvWatcher* w = nullptr;
  ASSERT_EQ(kvStore_WatchAll(&w, kv.get(), nullptr), NATS_OK);
  watcher_ptr all(w);
  // Initial values: the latest entry per key (a delete marker included), then a NULL entry.
  std::map<std::string, std::pair<std::string, kvOperation>> initial;
  natsStatus st = NATS_OK;
  for (;;) {
    auto e = next_entry(w, &st);
    ASSERT_EQ(st, NATS_OK);
    if (!e) break;
    initial[kvEntry_Key(e.get())] = {value_of(e.get()), kvEntry_Operation(e.get())};
  }
  ASSERT_EQ(initial.size(), 3u);
  EXPECT_EQ(initial["x.1"], std::make_pair(std::string("uno"), kvOp_Put));
  EXPECT_EQ(initial["y"], std::make_pair(std::string("why"), kvOp_Put));
  EXPECT_EQ(initial["x.2"].second, kvOp_Delete);

  kvWatcher* wx = nullptr;
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.IgnoreDeletes = true;
  ASSERT_EQ(kvStore_Watch(&wx, kv.get(), "x.*", &wo), NATS_OK);
  watcher_ptr xs(wx);
  std::vector<std::string> xkeys;
  for (;;) {
    auto e = next_entry(wx, &st);
    ASSERT_EQ(st, NATS_OK);
    if (!e) break;
    xkeys.push_back(kvEntry_Key(e.get()));
  }
  EXPECT_EQ(xkeys, (std::vector<std::string>{"x.1"})) << "IgnoreDeletes hides x.2's marker";

  // Updates, live.
  kvStore_PutString(&rev, kv.get(), "x.3", "three");
  const uint64_t x3_rev = rev;
  kvStore_PutString(&rev, kv.get(), "z", "zed");
  kvStore_Delete(kv.get(), "x.1");
  auto u1 = next_entry(w, &st);
  ASSERT_TRUE(u1);
  EXPECT_STREQ(kvEntry_Key(u1.get()), "x.3");
  EXPECT_EQ(value_of(u1.get()), "three");
  EXPECT_EQ(kvEntry_Revision(u1.get()), x3_rev);
  EXPECT_EQ(kvEntry_Delta(u1.get()), 0u);
  auto u2 = next_entry(w, &st);
  ASSERT_TRUE(u2);
  EXPECT_STREQ(kvEntry_Key(u2.get()), "z");
  auto u3 = next_entry(w, &st);
  ASSERT_TRUE(u3);
  EXPECT_STREQ(kvEntry_Key(u3.get()), "x.1");
  EXPECT_EQ(kvEntry_Operation(u3.get()), kvOp_Delete);

  auto x3 = next_entry(wx, &st);
  ASSERT_TRUE(x3);
  EXPECT_STREQ(kvEntry_Key(x3.get()), "x.3");
  auto none = next_entry(wx, &st, 500);
  EXPECT_FALSE(none) << "z is not under x.*, and the x.1 delete is ignored";
  EXPECT_EQ(st, NATS_TIMEOUT);

  // A watcher on an empty key space says "no initial values" at once.
  kvWatcher* we = nullptr;
  ASSERT_EQ(kvStore_Watch(&we, kv.get(), "nothing.*", nullptr), NATS_OK);
  watcher_ptr empty(we);
  auto first = next_entry(we, &st, 2000);
  EXPECT_EQ(st, NATS_OK);
  EXPECT_FALSE(first);
}

TEST_F(NatsCKv, BucketTtlExpiresValues) {
  auto kv = bucket("ttl", 1, 500LL * 1000 * 1000);
  ASSERT_NE(kv, nullptr);
  uint64_t rev = 0;
  ASSERT_EQ(kvStore_PutString(&rev, kv.get(), "k", "v"), NATS_OK);
  EXPECT_TRUE(get(kv.get(), "k"));
  kvStatus* status = nullptr;
  ASSERT_EQ(kvStore_Status(&status, kv.get()), NATS_OK);
  EXPECT_EQ(kvStatus_TTL(status), 500LL * 1000 * 1000);
  kvStatus_Destroy(status);
  natsStatus st = NATS_OK;
  for (int i = 0; i < 30 && get(kv.get(), "k", &st); ++i) sleep_ms(100);
  EXPECT_EQ(st, NATS_NOT_FOUND) << "expired after the bucket TTL";
  EXPECT_EQ(stream_info(js, "KV_ttl")->State.Msgs, 0u);
}

bool wait_connected(natsConnection* nc) {
  for (int i = 0; i < 200; ++i) {
    if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED && natsConnection_FlushTimeout(nc, 500) == NATS_OK) {
      return true;
    }
    sleep_ms(50);
  }
  return false;
}

TEST_F(NatsCKv, RestartKeepsStreamsConsumersAndBuckets) {
  add_stream(js, "DUR", {"dur.>"});
  for (int i = 1; i <= 5; ++i) publish(js, "dur.x", std::to_string(i));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckPolicy = js_AckExplicit;
  natsSubscription* s = nullptr;
  ASSERT_EQ(js_PullSubscribe(&s, js, "dur.x", "keeper", nullptr, &so, nullptr), NATS_OK);
  sub_ptr sub(s);
  {
    fetched f(s, 3, 2000);
    ASSERT_EQ(f.count(), 3);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(natsMsg_AckSync(f[i], nullptr, nullptr), NATS_OK);
  }
  auto kv = bucket("keep", 2);
  uint64_t rev = 0;
  kvStore_PutString(&rev, kv.get(), "k", "before");

  server.restart();
  ASSERT_TRUE(wait_connected(c->nc.get())) << "nats.c did not reconnect";

  auto si = stream_info(js, "DUR");
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->State.Msgs, 5u);
  EXPECT_EQ(si->State.LastSeq, 5u);
  EXPECT_EQ(si->State.Consumers, 1);
  auto ci = consumer_info(js, "DUR", "keeper");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->AckFloor.Stream, 3u);
  EXPECT_EQ(ci->NumPending, 2u);
  {
    fetched f(s, 5, 2000);
    ASSERT_EQ(f.count(), 2) << "resumes after the last ack";
    EXPECT_EQ(data_of(f[0]), "4");
    EXPECT_EQ(data_of(f[1]), "5");
    EXPECT_EQ(meta_of(f[0])->Sequence.Consumer, 4u);
    for (int i = 0; i < 2; ++i) natsMsg_AckSync(f[i], nullptr, nullptr);
  }
  EXPECT_EQ(publish(js, "dur.x", "6"), 6u) << "sequences continue";
  auto e = get(kv.get(), "k");
  ASSERT_TRUE(e);
  EXPECT_EQ(value_of(e.get()), "before");
  EXPECT_EQ(kvEntry_Revision(e.get()), 1u);
  ASSERT_EQ(kvStore_UpdateString(&rev, kv.get(), "k", "after", 1), NATS_OK);
}

}  // namespace
}  // namespace ferry::test::js
