// JetStream interop with nats.c (Debian's libnats 3.4.1, a client we did not write) against an
// embedded ferryd: streams, publishing with options, stream messages, consumers, pull fetches and
// every kind of acknowledgement. Push consumers, flow control, KV and restarts are in
// nats_c_js_push_kv_test.cc.
#include <algorithm>
#include <atomic>
#include <set>
#include <vector>

#include "nats_c_js_util.h"

namespace ferry::test::js {
namespace {

using NatsCJs = js_test;

TEST_F(NatsCJs, StreamAddUpdateInfoListDelete) {
  auto si = add_stream(js, "ORDERS", {"orders.>"}, [](jsStreamConfig& cfg) {
    cfg.MaxMsgsPerSubject = 10;
    cfg.Description = "order events";
  });
  ASSERT_NE(si, nullptr);
  EXPECT_STREQ(si->Config->Name, "ORDERS");
  EXPECT_STREQ(si->Config->Description, "order events");
  EXPECT_EQ(si->Config->Retention, js_LimitsPolicy);
  EXPECT_EQ(si->Config->Storage, js_FileStorage);
  EXPECT_EQ(si->Config->MaxMsgs, -1);
  EXPECT_EQ(si->Config->MaxMsgsPerSubject, 10);
  EXPECT_EQ(si->Config->Duplicates, 120LL * 1000 * 1000 * 1000) << "default duplicate window is 2 minutes";
  EXPECT_EQ(si->Config->Replicas, 1);
  EXPECT_EQ(si->State.Msgs, 0u);
  EXPECT_GT(si->Created, 0);

  // Same config again: fine. Another config under the same name: 10058.
  EXPECT_NE(add_stream(js, "ORDERS", {"orders.>"},
                       [](jsStreamConfig& cfg) {
                         cfg.MaxMsgsPerSubject = 10;
                         cfg.Description = "order events";
                       }),
            nullptr);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "ORDERS";
  const char* other[] = {"other.>"};
  cfg.Subjects = other;
  cfg.SubjectsLen = 1;
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  EXPECT_NE(js_AddStream(&raw, js, &cfg, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSStreamNameExistErr);
  // Overlapping subjects with another stream: 10065.
  cfg.Name = "OVERLAP";
  const char* overlap[] = {"orders.eu"};
  cfg.Subjects = overlap;
  EXPECT_NE(js_AddStream(&raw, js, &cfg, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSStreamSubjectOverlapErr);

  for (int i = 0; i < 3; ++i) publish(js, "orders.new", "n" + std::to_string(i));
  publish(js, "orders.paid", "p");

  // Update: another subject, a message limit. Changing the storage type is refused.
  jsStreamConfig up;
  jsStreamConfig_Init(&up);
  up.Name = "ORDERS";
  const char* subjects[] = {"orders.>", "returns.>"};
  up.Subjects = subjects;
  up.SubjectsLen = 2;
  up.MaxMsgs = 3;
  up.MaxMsgsPerSubject = 10;
  jsStreamInfo* usi = nullptr;
  ASSERT_EQ(js_UpdateStream(&usi, js, &up, nullptr, &jerr), NATS_OK) << jerr;
  sinfo_ptr updated(usi);
  EXPECT_EQ(updated->Config->SubjectsLen, 2);
  EXPECT_EQ(updated->Config->MaxMsgs, 3);
  EXPECT_EQ(updated->State.Msgs, 3u) << "the new limit applies at once";
  EXPECT_EQ(updated->State.FirstSeq, 2u);
  EXPECT_EQ(publish(js, "returns.x", "r"), 5u) << "the added subject is captured";
  up.Storage = js_MemoryStorage;
  EXPECT_NE(js_UpdateStream(&usi, js, &up, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSStreamInvalidConfig);

  // Info with a subjects filter lists the subjects and their counts.
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = "orders.*";
  auto info = stream_info(js, "ORDERS", &o);
  ASSERT_NE(info, nullptr);
  ASSERT_NE(info->State.Subjects, nullptr);
  std::map<std::string, std::uint64_t> counts;
  for (int i = 0; i < info->State.Subjects->Count; ++i) {
    counts[info->State.Subjects->List[i].Subject] = info->State.Subjects->List[i].Msgs;
  }
  EXPECT_EQ(counts, (std::map<std::string, std::uint64_t>{{"orders.new", 1}, {"orders.paid", 1}}));
  EXPECT_EQ(info->State.NumSubjects, 3);

  add_stream(js, "AUDIT", {"audit"});
  jsStreamNamesList* names = nullptr;
  ASSERT_EQ(js_StreamNames(&names, js, nullptr, &jerr), NATS_OK);
  std::set<std::string> got;
  for (int i = 0; i < names->Count; ++i) got.insert(names->List[i]);
  jsStreamNamesList_Destroy(names);
  EXPECT_EQ(got, (std::set<std::string>{"AUDIT", "ORDERS"}));
  jsStreamInfoList* list = nullptr;
  ASSERT_EQ(js_Streams(&list, js, nullptr, &jerr), NATS_OK);
  ASSERT_EQ(list->Count, 2);
  std::map<std::string, std::uint64_t> msgs;
  for (int i = 0; i < list->Count; ++i) msgs[list->List[i]->Config->Name] = list->List[i]->State.Msgs;
  jsStreamInfoList_Destroy(list);
  EXPECT_EQ(msgs, (std::map<std::string, std::uint64_t>{{"AUDIT", 0}, {"ORDERS", 3}}));

  ASSERT_EQ(js_DeleteStream(js, "AUDIT", nullptr, &jerr), NATS_OK);
  jsStreamInfo* gone = nullptr;
  EXPECT_EQ(js_GetStreamInfo(&gone, js, "AUDIT", nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(js_DeleteStream(js, "AUDIT", nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(jerr, JSStreamNotFoundErr);
}

TEST_F(NatsCJs, PurgeWithOptions) {
  add_stream(js, "P", {"p.>"});
  for (int i = 0; i < 4; ++i) publish(js, "p.a", "a");  // 1-4
  for (int i = 0; i < 3; ++i) publish(js, "p.b", "b");  // 5-7
  for (int i = 0; i < 3; ++i) publish(js, "p.c", "c");  // 8-10
  jsOptions o;
  jsOptions_Init(&o);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  o.Stream.Purge.Subject = "p.a";
  o.Stream.Purge.Keep = 1;
  ASSERT_EQ(js_PurgeStream(js, "P", &o, &jerr), NATS_OK) << jerr;
  auto si = stream_info(js, "P");
  EXPECT_EQ(si->State.Msgs, 7u);
  EXPECT_EQ(si->State.FirstSeq, 4u) << "the newest p.a is kept";
  jsOptions_Init(&o);
  o.Stream.Purge.Sequence = 6;  // everything below 6
  ASSERT_EQ(js_PurgeStream(js, "P", &o, &jerr), NATS_OK);
  si = stream_info(js, "P");
  EXPECT_EQ(si->State.Msgs, 5u);
  EXPECT_EQ(si->State.FirstSeq, 6u);
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = "p.c";
  ASSERT_EQ(js_PurgeStream(js, "P", &o, &jerr), NATS_OK);
  si = stream_info(js, "P");
  EXPECT_EQ(si->State.Msgs, 2u);
  EXPECT_EQ(si->State.LastSeq, 10u) << "purging never rewinds the sequence";
  ASSERT_EQ(js_PurgeStream(js, "P", nullptr, &jerr), NATS_OK);
  si = stream_info(js, "P");
  EXPECT_EQ(si->State.Msgs, 0u);
  EXPECT_EQ(si->State.FirstSeq, 11u);
  EXPECT_EQ(publish(js, "p.a", "again"), 11u);
  EXPECT_EQ(js_PurgeStream(js, "NOPE", nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(jerr, JSStreamNotFoundErr);
}

TEST_F(NatsCJs, GetDeleteAndDirectGet) {
  add_stream(js, "M", {"m.>"}, [](jsStreamConfig& cfg) { cfg.AllowDirect = true; });
  natsMsg* m = nullptr;
  ASSERT_EQ(natsMsg_Create(&m, "m.h", nullptr, "with headers", 12), NATS_OK);
  natsMsgHeader_Set(m, "X-Trace", "abc");
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_PublishMsg(&pa, js, m, nullptr, &jerr), NATS_OK);
  jsPubAck_Destroy(pa);
  natsMsg_Destroy(m);
  publish(js, "m.a", "first a");
  publish(js, "m.a", "second a");

  natsMsg* got = nullptr;
  ASSERT_EQ(js_GetMsg(&got, js, "M", 1, nullptr, &jerr), NATS_OK) << jerr;
  msg_ptr g1(got);
  EXPECT_STREQ(natsMsg_GetSubject(got), "m.h");
  EXPECT_EQ(data_of(got), "with headers");
  EXPECT_EQ(header_of(got, "X-Trace"), "abc");
  EXPECT_EQ(natsMsg_GetSequence(got), 1u);
  EXPECT_GT(natsMsg_GetTime(got), 0);

  ASSERT_EQ(js_GetLastMsg(&got, js, "M", "m.a", nullptr, &jerr), NATS_OK);
  msg_ptr g2(got);
  EXPECT_EQ(data_of(got), "second a");
  EXPECT_EQ(natsMsg_GetSequence(got), 3u);

  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.Sequence = 2;
  ASSERT_EQ(js_DirectGetMsg(&got, js, "M", nullptr, &dg), NATS_OK);
  msg_ptr g3(got);
  EXPECT_EQ(data_of(got), "first a");
  EXPECT_EQ(header_of(got, "Nats-Stream"), "M");
  EXPECT_EQ(header_of(got, "Nats-Sequence"), "2");
  jsDirectGetMsgOptions_Init(&dg);
  dg.LastBySubject = "m.h";
  ASSERT_EQ(js_DirectGetMsg(&got, js, "M", nullptr, &dg), NATS_OK);
  msg_ptr g4(got);
  EXPECT_EQ(header_of(got, "X-Trace"), "abc");
  jsDirectGetMsgOptions_Init(&dg);
  dg.Sequence = 1;
  dg.NextBySubject = "m.a";
  ASSERT_EQ(js_DirectGetMsg(&got, js, "M", nullptr, &dg), NATS_OK);
  msg_ptr g5(got);
  EXPECT_EQ(natsMsg_GetSequence(got), 2u);
  jsDirectGetMsgOptions_Init(&dg);
  dg.Sequence = 99;
  EXPECT_EQ(js_DirectGetMsg(&got, js, "M", nullptr, &dg), NATS_NOT_FOUND);

  ASSERT_EQ(js_DeleteMsg(js, "M", 2, nullptr, &jerr), NATS_OK) << jerr;
  EXPECT_EQ(js_GetMsg(&got, js, "M", 2, nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(jerr, JSNoMessageFoundErr);
  EXPECT_NE(js_DeleteMsg(js, "M", 2, nullptr, &jerr), NATS_OK) << "already deleted";
  ASSERT_EQ(js_EraseMsg(js, "M", 3, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(js_GetLastMsg(&got, js, "M", "m.a", nullptr, &jerr), NATS_NOT_FOUND);
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.DeletedDetails = true;
  auto si = stream_info(js, "M", &o);
  EXPECT_EQ(si->State.Msgs, 1u);
  EXPECT_EQ(si->State.NumDeleted, 2u);
  ASSERT_EQ(si->State.DeletedLen, 2);
  EXPECT_EQ(si->State.Deleted[0], 2u);
  EXPECT_EQ(si->State.Deleted[1], 3u);
}

TEST_F(NatsCJs, PublishOptionsDedupAndExpectations) {
  add_stream(js, "PUB", {"pub.>"}, [](jsStreamConfig& cfg) { cfg.Duplicates = 60LL * 1000 * 1000 * 1000; });
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = "order-1";
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_Publish(&pa, js, "pub.a", "1", 1, &po, &jerr), NATS_OK);
  ack_ptr a1(pa);
  EXPECT_STREQ(pa->Stream, "PUB");
  EXPECT_EQ(pa->Sequence, 1u);
  EXPECT_FALSE(pa->Duplicate);
  ASSERT_EQ(js_Publish(&pa, js, "pub.a", "1 again", 7, &po, &jerr), NATS_OK);
  ack_ptr a2(pa);
  EXPECT_TRUE(pa->Duplicate);
  EXPECT_EQ(pa->Sequence, 1u) << "a duplicate reports the original sequence";

  jsPubOptions_Init(&po);
  po.ExpectStream = "PUB";
  po.ExpectLastSeq = 1;
  EXPECT_EQ(publish(js, "pub.b", "2", &po), 2u);
  jsPubOptions_Init(&po);
  po.ExpectStream = "OTHER";
  EXPECT_EQ(js_Publish(&pa, js, "pub.b", "x", 1, &po, &jerr), NATS_ERR);
  EXPECT_EQ(jerr, JSStreamNotMatchErr);
  jsPubOptions_Init(&po);
  po.ExpectLastSeq = 1;
  EXPECT_EQ(js_Publish(&pa, js, "pub.b", "x", 1, &po, &jerr), NATS_ERR);
  EXPECT_EQ(jerr, JSStreamWrongLastSequenceErr);
  EXPECT_NE(std::string(nats_GetLastError(nullptr)).find("wrong last sequence: 2"), std::string::npos)
      << nats_GetLastError(nullptr);
  jsPubOptions_Init(&po);
  po.MsgId = "order-3";
  EXPECT_EQ(publish(js, "pub.c", "3", &po), 3u);
  jsPubOptions_Init(&po);
  po.ExpectLastMsgId = "order-3";
  EXPECT_EQ(publish(js, "pub.c", "4", &po), 4u);
  EXPECT_EQ(js_Publish(&pa, js, "pub.c", "x", 1, &po, &jerr), NATS_ERR) << "seq 4 carried no id";
  EXPECT_EQ(jerr, JSStreamWrongLastMsgIDErr);
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = 2;
  EXPECT_EQ(publish(js, "pub.b", "5", &po), 5u);
  EXPECT_EQ(js_Publish(&pa, js, "pub.b", "x", 1, &po, &jerr), NATS_ERR);
  EXPECT_EQ(jerr, JSStreamWrongLastSequenceErr);
  jsPubOptions_Init(&po);
  po.ExpectNoMessage = true;
  EXPECT_EQ(publish(js, "pub.fresh", "6", &po), 6u);
  EXPECT_EQ(js_Publish(&pa, js, "pub.fresh", "x", 1, &po, &jerr), NATS_ERR);
  // Nothing is stored by a refused publish.
  auto si = stream_info(js, "PUB");
  EXPECT_EQ(si->State.Msgs, 6u);
  EXPECT_EQ(si->State.LastSeq, 6u);
  // No stream on the subject: no responders.
  EXPECT_EQ(js_Publish(&pa, js, "nostream.x", "x", 1, nullptr, &jerr), NATS_NO_RESPONDERS);
}

struct async_acks {
  std::mutex mu;
  std::set<std::uint64_t> seqs;
  std::vector<jsErrCode> errors;
};

void on_async_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* a = static_cast<async_acks*>(closure);
  std::lock_guard lock(a->mu);
  if (pa != nullptr) a->seqs.insert(pa->Sequence);
  if (pae != nullptr) a->errors.push_back(pae->ErrCode);
  natsMsg_Destroy(msg);
}

TEST_F(NatsCJs, PublishAsyncAndComplete) {
  add_stream(js, "ASYNC", {"async.>"});
  async_acks acks;
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.AckHandler = on_async_ack;
  o.PublishAsync.AckHandlerClosure = &acks;
  o.PublishAsync.MaxPending = 100;
  jsCtx* ajs = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&ajs, c->nc.get(), &o), NATS_OK);
  js_ptr holder(ajs);
  const int n = 500;
  for (int i = 0; i < n; ++i) {
    const std::string body = "m" + std::to_string(i);
    ASSERT_EQ(js_PublishAsync(ajs, "async.x", body.data(), static_cast<int>(body.size()), nullptr), NATS_OK) << i;
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectStream = "WRONG";
  ASSERT_EQ(js_PublishAsync(ajs, "async.x", "bad", 3, &po), NATS_OK);
  jsPubOptions_Init(&po);
  po.MaxWait = 10000;
  ASSERT_EQ(js_PublishAsyncComplete(ajs, &po), NATS_OK);
  std::lock_guard lock(acks.mu);
  EXPECT_EQ(acks.seqs.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(*acks.seqs.begin(), 1u);
  EXPECT_EQ(*acks.seqs.rbegin(), static_cast<std::uint64_t>(n));
  ASSERT_EQ(acks.errors.size(), 1u);
  EXPECT_EQ(acks.errors[0], JSStreamNotMatchErr);
  EXPECT_EQ(stream_info(js, "ASYNC")->State.Msgs, static_cast<std::uint64_t>(n));
}

TEST_F(NatsCJs, ConsumerAddInfoListDelete) {
  add_stream(js, "C", {"c.>"});
  for (int i = 0; i < 5; ++i) publish(js, "c." + std::to_string(i % 2), "x");
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "worker";
  cc.AckPolicy = js_AckExplicit;
  cc.FilterSubject = "c.0";
  cc.MaxDeliver = 4;
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_AddConsumer(&ci, js, "C", &cc, nullptr, &jerr), NATS_OK) << jerr;
  cinfo_ptr created(ci);
  EXPECT_STREQ(ci->Stream, "C");
  EXPECT_STREQ(ci->Name, "worker");
  EXPECT_STREQ(ci->Config->Durable, "worker");
  EXPECT_EQ(ci->Config->AckWait, 30LL * 1000 * 1000 * 1000) << "default ack wait";
  EXPECT_EQ(ci->Config->MaxAckPending, 1000);
  EXPECT_EQ(ci->Config->MaxWaiting, 512);
  EXPECT_EQ(ci->Config->MaxDeliver, 4);
  EXPECT_EQ(ci->NumPending, 3u) << "c.0 holds seq 1, 3, 5";
  EXPECT_EQ(ci->Delivered.Consumer, 0u);

  cc.Durable = "other";
  cc.FilterSubject = "d.>";
  EXPECT_NE(js_AddConsumer(&ci, js, "C", &cc, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSConsumerFilterNotSubsetErr);
  cc.FilterSubject = nullptr;
  EXPECT_NE(js_AddConsumer(&ci, js, "NOPE", &cc, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSStreamNotFoundErr);
  ASSERT_EQ(js_AddConsumer(&ci, js, "C", &cc, nullptr, &jerr), NATS_OK);
  cinfo_ptr second(ci);
  // Changing the ack policy of an existing durable is refused.
  cc.AckPolicy = js_AckNone;
  EXPECT_NE(js_AddConsumer(&ci, js, "C", &cc, nullptr, &jerr), NATS_OK);
  EXPECT_EQ(jerr, JSConsumerCreateErr);
  EXPECT_NE(std::string(nats_GetLastError(nullptr)).find("ack policy can not be updated"), std::string::npos);

  auto info = consumer_info(js, "C", "other");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->NumPending, 5u);
  jsConsumerInfoList* list = nullptr;
  ASSERT_EQ(js_Consumers(&list, js, "C", nullptr, &jerr), NATS_OK);
  std::set<std::string> names;
  for (int i = 0; i < list->Count; ++i) names.insert(list->List[i]->Name);
  jsConsumerInfoList_Destroy(list);
  EXPECT_EQ(names, (std::set<std::string>{"other", "worker"}));
  jsConsumerNamesList* nl = nullptr;
  ASSERT_EQ(js_ConsumerNames(&nl, js, "C", nullptr, &jerr), NATS_OK);
  EXPECT_EQ(nl->Count, 2);
  jsConsumerNamesList_Destroy(nl);
  EXPECT_EQ(stream_info(js, "C")->State.Consumers, 2);

  ASSERT_EQ(js_DeleteConsumer(js, "C", "other", nullptr, &jerr), NATS_OK);
  EXPECT_EQ(js_GetConsumerInfo(&ci, js, "C", "other", nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(jerr, JSConsumerNotFoundErr);
  EXPECT_EQ(js_DeleteConsumer(js, "C", "other", nullptr, &jerr), NATS_NOT_FOUND);
  EXPECT_EQ(stream_info(js, "C")->State.Consumers, 1);
}

sub_ptr pull_sub(jsCtx* js, const char* subject, const char* durable, void (*tweak)(jsConsumerConfig&) = nullptr) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckPolicy = js_AckExplicit;
  if (tweak != nullptr) tweak(so.Config);
  natsSubscription* s = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_PullSubscribe(&s, js, subject, durable, nullptr, &so, &jerr), NATS_OK)
      << nats_GetLastError(nullptr) << " (" << jerr << ")";
  return sub_ptr(s);
}

TEST_F(NatsCJs, PullFetchBatchesExpiresAndNoWait) {
  add_stream(js, "PULL", {"pull.>"});
  for (int i = 1; i <= 10; ++i) publish(js, "pull.x", std::to_string(i));
  auto sub = pull_sub(js, "pull.x", "fetcher");
  ASSERT_NE(sub, nullptr);
  {
    fetched f(sub.get(), 4, 2000);
    ASSERT_EQ(f.status, NATS_OK);
    ASSERT_EQ(f.count(), 4);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(data_of(f[i]), std::to_string(i + 1));
      auto md = meta_of(f[i]);
      EXPECT_EQ(md->Sequence.Stream, static_cast<std::uint64_t>(i + 1));
      EXPECT_EQ(md->Sequence.Consumer, static_cast<std::uint64_t>(i + 1));
      EXPECT_EQ(md->NumDelivered, 1u);
      EXPECT_EQ(md->NumPending, static_cast<std::uint64_t>(10 - i - 1));
      EXPECT_STREQ(md->Stream, "PULL");
      EXPECT_STREQ(md->Consumer, "fetcher");
      EXPECT_EQ(natsMsg_Ack(f[i], nullptr), NATS_OK);
    }
  }
  {
    // A batch larger than what is left: the rest comes back before the timeout.
    const auto t0 = std::chrono::steady_clock::now();
    fetched f(sub.get(), 20, 3000);
    EXPECT_EQ(f.status, NATS_OK);
    EXPECT_EQ(f.count(), 6);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms) << "the server ends the request when it runs dry";
    for (int i = 0; i < f.count(); ++i) EXPECT_EQ(natsMsg_AckSync(f[i], nullptr, nullptr), NATS_OK);
  }
  {
    // Nothing left: the fetch times out after about its timeout, not at once and not much later.
    const auto t0 = std::chrono::steady_clock::now();
    fetched f(sub.get(), 1, 500);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(f.status, NATS_TIMEOUT);
    EXPECT_EQ(f.count(), 0);
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 2000ms);
  }
  {
    // No-wait with an expiry and nothing there: nats-server 2.9 holds the request until it
    // expires (nats.c also uses Expires as its own timeout).
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = 5;
    req.NoWait = true;
    req.Expires = 1000LL * 1000 * 1000;
    const auto t0 = std::chrono::steady_clock::now();
    fetched f(sub.get(), &req);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_NE(f.status, NATS_OK);
    EXPECT_EQ(f.count(), 0);
    EXPECT_GE(took, 800ms);
    EXPECT_LT(took, 2500ms);
  }
  for (int i = 11; i <= 13; ++i) publish(js, "pull.x", std::to_string(i));
  {
    // No-wait with fewer messages than the batch: those messages, at once.
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = 5;
    req.NoWait = true;
    req.Expires = 3000LL * 1000 * 1000;
    const auto t0 = std::chrono::steady_clock::now();
    fetched f(sub.get(), &req);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms) << "no-wait waited";
    EXPECT_EQ(f.status, NATS_OK);
    ASSERT_EQ(f.count(), 3);
    EXPECT_EQ(data_of(f[0]), "11");
    for (int i = 0; i < 3; ++i) natsMsg_Ack(f[i], nullptr);
  }
  {
    // A request that waits (expires) gets a message published while it waits.
    std::thread later([&] {
      sleep_ms(300);
      client p(server.url());
      publish(p.js.get(), "pull.x", "late");
    });
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = 1;
    req.Expires = 3000LL * 1000 * 1000;
    fetched f(sub.get(), &req);
    later.join();
    EXPECT_EQ(f.status, NATS_OK);
    ASSERT_EQ(f.count(), 1);
    EXPECT_EQ(data_of(f[0]), "late");
    natsMsg_Ack(f[0], nullptr);
  }
  {
    // max_bytes caps a batch.
    for (int i = 0; i < 5; ++i) publish(js, "pull.x", std::string(100, 'b'));
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = 5;
    req.MaxBytes = 350;
    req.Expires = 1000LL * 1000 * 1000;
    fetched f(sub.get(), &req);
    EXPECT_GE(f.count(), 1);
    EXPECT_LE(f.count(), 3) << "each message counts more than its 100 payload bytes";
  }
  auto ci = consumer_info(js, "PULL", "fetcher");
  EXPECT_EQ(ci->AckFloor.Stream, 14u);
  EXPECT_EQ(ci->NumWaiting, 0);
}

}  // namespace
}  // namespace ferry::test::js
