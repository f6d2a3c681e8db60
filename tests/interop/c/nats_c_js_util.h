// Helpers shared by the nats.c JetStream and KV interop suites: an embedded ferryd with
// JetStream on (its own store directory, restartable on the same port and directory) and RAII
// holders for libnats objects.
#pragma once

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "broker/server.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test::js {

using namespace std::chrono_literals;

// The server under test: an embedded ferryd, or, with NATS_C_JS_SERVER=nats-server in the
// environment, Debian's nats-server as a child process (to check the suite's own expectations
// against the reference implementation).
struct js_server {
  std::unique_ptr<broker::server> srv;
  child_process reference;
  broker::server_options opts;
  std::string dir;

  static bool use_reference() {
    const char* e = std::getenv("NATS_C_JS_SERVER");
    return e != nullptr && std::string(e) == "nats-server";
  }
  void start() {
    dir = make_temp_dir("ferry-nats-c-js-");
    opts.port = free_port();
    opts.jetstream = true;
    opts.store_dir = dir + "/js";
    spdlog::set_level(spdlog::level::off);
    launch();
  }
  void launch() {
    if (use_reference()) {
      ASSERT_TRUE(reference.start(
          {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(opts.port), "-js", "-sd", opts.store_dir},
          dir + "/nats.log"));
      ASSERT_TRUE(reference.wait_for_port(opts.port));
      return;
    }
    auto s = broker::server::start(opts);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    srv = std::move(*s);
  }
  // Shuts down and starts again on the same port and store directory.
  void restart() {
    srv.reset();
    reference.stop();
    launch();
  }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(opts.port); }
  ~js_server() {
    srv.reset();
    reference.stop();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* p) const {
    if (p != nullptr) F(p);
  }
};
using conn_ptr = std::unique_ptr<natsConnection, deleter<natsConnection, natsConnection_Destroy>>;
using js_ptr = std::unique_ptr<jsCtx, deleter<jsCtx, jsCtx_Destroy>>;
using sub_ptr = std::unique_ptr<natsSubscription, deleter<natsSubscription, natsSubscription_Destroy>>;
using msg_ptr = std::unique_ptr<natsMsg, deleter<natsMsg, natsMsg_Destroy>>;
using sinfo_ptr = std::unique_ptr<jsStreamInfo, deleter<jsStreamInfo, jsStreamInfo_Destroy>>;
using cinfo_ptr = std::unique_ptr<jsConsumerInfo, deleter<jsConsumerInfo, jsConsumerInfo_Destroy>>;
using ack_ptr = std::unique_ptr<jsPubAck, deleter<jsPubAck, jsPubAck_Destroy>>;
using meta_ptr = std::unique_ptr<jsMsgMetaData, deleter<jsMsgMetaData, jsMsgMetaData_Destroy>>;
using kv_ptr = std::unique_ptr<kvStore, deleter<kvStore, kvStore_Destroy>>;
using entry_ptr = std::unique_ptr<kvEntry, deleter<kvEntry, kvEntry_Destroy>>;
using watcher_ptr = std::unique_ptr<kvWatcher, deleter<kvWatcher, kvWatcher_Destroy>>;

// A connection (reconnecting forever, 100 ms apart) and its JetStream context.
struct client {
  conn_ptr nc;
  js_ptr js;
  explicit client(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetTimeout(o, 2000);
    natsOptions_SetReconnectWait(o, 100);
    natsOptions_SetMaxReconnect(o, -1);
    natsConnection* c = nullptr;
    const natsStatus s = natsConnection_Connect(&c, o);
    natsOptions_Destroy(o);
    EXPECT_EQ(s, NATS_OK) << nats_GetLastError(nullptr);
    nc.reset(c);
    jsCtx* j = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000;
    if (c != nullptr) {
      EXPECT_EQ(natsConnection_JetStream(&j, c, &jo), NATS_OK);
    }
    js.reset(j);
  }
};

inline std::string data_of(natsMsg* m) {
  return {natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))};
}

inline std::string header_of(natsMsg* m, const char* name) {
  const char* v = nullptr;
  return natsMsgHeader_Get(m, name, &v) == NATS_OK && v != nullptr ? v : "";
}

inline meta_ptr meta_of(natsMsg* m) {
  jsMsgMetaData* md = nullptr;
  EXPECT_EQ(natsMsg_GetMetaData(&md, m), NATS_OK);
  return meta_ptr(md);
}

// Adds a stream on `subjects` (storage file unless told).
inline sinfo_ptr add_stream(jsCtx* js, const char* name, std::initializer_list<const char*> subjects,
                            void (*tweak)(jsStreamConfig&) = nullptr) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  std::vector<const char*> subs(subjects);
  cfg.Subjects = subs.data();
  cfg.SubjectsLen = static_cast<int>(subs.size());
  if (tweak != nullptr) tweak(cfg);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  EXPECT_EQ(s, NATS_OK) << "add stream " << name << ": " << nats_GetLastError(nullptr) << " (" << jerr << ")";
  return sinfo_ptr(si);
}

inline std::uint64_t publish(jsCtx* js, const std::string& subject, const std::string& data,
                             jsPubOptions* po = nullptr) {
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_Publish(&pa, js, subject.c_str(), data.data(), static_cast<int>(data.size()), po, &jerr);
  EXPECT_EQ(s, NATS_OK) << subject << ": " << nats_GetLastError(nullptr) << " (" << jerr << ")";
  ack_ptr holder(pa);
  return pa != nullptr ? pa->Sequence : 0;
}

inline cinfo_ptr consumer_info(jsCtx* js, const char* stream, const char* consumer) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetConsumerInfo(&ci, js, stream, consumer, nullptr, &jerr), NATS_OK) << jerr;
  return cinfo_ptr(ci);
}

inline sinfo_ptr stream_info(jsCtx* js, const char* stream, jsOptions* o = nullptr) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetStreamInfo(&si, js, stream, o, &jerr), NATS_OK) << jerr;
  return sinfo_ptr(si);
}

// Fetches up to `batch` messages (waiting at most `timeout_ms`); the list owns them.
struct fetched {
  natsMsgList list{};
  natsStatus status = NATS_OK;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  fetched(natsSubscription* sub, int batch, int64_t timeout_ms) {
    status = natsSubscription_Fetch(&list, sub, batch, timeout_ms, &jerr);
  }
  fetched(natsSubscription* sub, jsFetchRequest* req) { status = natsSubscription_FetchRequest(&list, sub, req); }
  ~fetched() { natsMsgList_Destroy(&list); }
  [[nodiscard]] int count() const { return list.Count; }
  natsMsg* operator[](int i) const { return list.Msgs[i]; }
};

inline void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// The fixture of every nats.c JetStream suite: a fresh server with JetStream and a connected
// client with its JetStream context.
class js_test : public ::testing::Test {
 protected:
  void SetUp() override {
    server.start();
    c = std::make_unique<client>(server.url());
    ASSERT_NE(c->js, nullptr);
    js = c->js.get();
  }
  js_server server;
  std::unique_ptr<client> c;
  jsCtx* js = nullptr;
};

}  // namespace ferry::test::js
