// The Kafka rows of transport_throughput: ferry's Kafka transport against raw librdkafka doing the
// same work on one mock cluster (3 brokers, in this process; a topic of 4 partitions per run).
//
// Publishing: n messages of 16 bytes with a key (16 keys) and an id header, acks=all from an
// idempotent producer with linger.ms=1 and Nagle off (ferry's defaults), until every delivery
// report is in. Raw and ferry alternate which goes first in a round.
// Raw: rd_kafka_producev and rd_kafka_poll(0) in the publishing loop (one payload buffer, a key
// and an id string made for each message), then flush. ferry: publish_async (a callback per
// message) with a new message each, given up (std::move), and with one message whose key and id
// are set again for each (as raw reuses its buffer); and publish(batch of 256).
// Consuming: the same n messages read by a new consumer group, each "acknowledged": raw stores the
// offset of every message it handled and auto-commits them; ferry acks each message in its
// callback. Raw is measured twice: one rd_kafka_consumer_poll per message (the usual loop), and
// batched as ferry's consumer polls (a poll, then what librdkafka holds already in one
// rd_kafka_consume_batch_queue call). Timed from the first message to the last, so the group join (3 s in the mock) is
// left out. Both read the id header.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

#include "ferry/kafka.h"
#include "mock_cluster.h"
#include "throughput.h"

namespace throughput {
namespace {

std::string id_of(std::uint64_t i) { return "id-" + std::to_string(i); }

rd_kafka_conf_t* raw_conf(const std::string& bootstrap) {
  char err[256];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  // What ferry's clients set too (src/transport/kafka/client.cc): the same bytes on the wire.
  rd_kafka_conf_set(c, "socket.nagle.disable", "true", err, sizeof err);
  return c;
}

void set(rd_kafka_conf_t* c, const char* k, const char* v) {
  char err[256];
  if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) std::fprintf(stderr, "%s\n", err);
}

// Raw librdkafka producer; returns msgs/s (0 if a report failed) and records the publisher's CPU.
// batch 0: every message in flight at once; else `batch` at a time, each waited for (what
// publish(vector) does).
void raw_publish(const std::string& bootstrap, const std::string& topic, std::uint64_t n, std::size_t batch, runs& r,
                 bool poll_thread = false) {
  rd_kafka_conf_t* c = raw_conf(bootstrap);
  set(c, "enable.idempotence", "true");
  set(c, "linger.ms", "1");
  static std::atomic<std::uint64_t> failed{0}, reported{0};
  failed = 0;
  reported = 0;
  rd_kafka_conf_set_dr_msg_cb(c, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) failed.fetch_add(1);
    reported.fetch_add(1);
  });
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  const std::string payload(payload_size, 'x');
  std::atomic<bool> polling{poll_thread};
  std::thread poller([&] {
    while (polling.load()) rd_kafka_poll(rk, 100);
  });
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns(), all = process_cpu_ns();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(i % 16), id = id_of(i);
    rd_kafka_headers_t* h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "Ferry-Id", -1, id.data(), static_cast<ssize_t>(id.size()));
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 1);
    }
    if (!poll_thread) rd_kafka_poll(rk, 0);
    if (batch > 0 && (i + 1) % batch == 0) {
      while (reported.load() < i + 1) rd_kafka_poll(rk, 10);
    }
  }
  if (poll_thread) {
    while (reported.load() < n) std::this_thread::sleep_for(100us);
    polling = false;
  }
  poller.join();
  rd_kafka_flush(rk, 60000);
  r.pub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.all_cpu.push_back((process_cpu_ns() - all) / static_cast<double>(n));
  r.rates.push_back(failed.load() == 0 ? static_cast<double>(n) / seconds_since(start) : 0);
  rd_kafka_destroy(rk);
}

ferry::kafka::options ferry_options() { return ferry::kafka_mock::mock_cluster::client_options("bench"); }

// How the ferry rows hand their messages over.
enum class handover : std::uint8_t {
  fresh,   // publish_async(std::move(m)): a new message each, given up
  reused,  // publish_async(m): one message, its key and id set again for each (raw's loop reuses
           // its payload buffer the same way; librdkafka copies what it sends)
  batch,   // publish(vector of `batch`)
};

void ferry_publish(const std::string& bootstrap, const std::string& topic, std::uint64_t n, handover how,
                   std::size_t batch, runs& r) {
  auto t = ferry::kafka::connect(bootstrap, ferry_options());
  if (!t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  const std::string payload(payload_size, 'x');
  counter done;
  std::atomic<std::uint64_t> failed{0};
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns(), all = process_cpu_ns();
  const auto answered = [&](ferry::status s) {
    if (!s.is_ok()) failed.fetch_add(1);
    done.fetch_add(1, std::memory_order_release);
  };
  if (how == handover::fresh) {
    for (std::uint64_t i = 0; i < n; ++i) {
      ferry::message m(topic, payload);
      m.key = "k" + std::to_string(i % 16);
      m.id = id_of(i);
      (*t)->publish_async(std::move(m), answered);
    }
  } else if (how == handover::reused) {
    ferry::message m(topic, payload);
    for (std::uint64_t i = 0; i < n; ++i) {
      m.key = "k" + std::to_string(i % 16);
      m.id = id_of(i);
      (*t)->publish_async(m, answered);
    }
  } else {
    for (std::uint64_t i = 0; i < n; i += batch) {
      std::vector<ferry::message> v;
      v.reserve(batch);
      for (std::uint64_t j = i; j < i + batch && j < n; ++j) {
        ferry::message m(topic, payload);
        m.key = "k" + std::to_string(j % 16);
        m.id = id_of(j);
        v.push_back(std::move(m));
      }
      if (!(*t)->publish(std::move(v)).is_ok()) failed.fetch_add(1);
    }
    done.store(n);
  }
  wait_for(done, n);
  r.pub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.all_cpu.push_back((process_cpu_ns() - all) / static_cast<double>(n));
  r.rates.push_back(failed.load() == 0 ? rate(done.load(), n, seconds_since(start)) : 0);
}

// Raw librdkafka consumer in a new group: stores each handled offset, auto-commits them.
// batched: after each rd_kafka_consumer_poll, up to 63 more messages that librdkafka holds already
// come from one rd_kafka_consume_batch_queue call without waiting (what ferry's consumer does).
void raw_consume(const std::string& bootstrap, const std::string& topic, std::uint64_t n, runs& r,
                 bool batched = false) {
  rd_kafka_conf_t* c = raw_conf(bootstrap);
  const std::string group = "raw-" + ferry::new_id();
  set(c, "group.id", group.c_str());
  set(c, "auto.offset.reset", "earliest");
  set(c, "enable.auto.offset.store", "false");
  set(c, "fetch.wait.max.ms", "10");
  set(c, "queued.min.messages", "10000000");  // as ferry sets it (src/transport/kafka/client.cc)
  set(c, "session.timeout.ms", "3000");
  set(c, "heartbeat.interval.ms", "300");
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  std::uint64_t got = 0;
  clock_type::time_point start{};
  double cpu = 0;
  const auto give_up = clock_type::now() + 120s;
  rd_kafka_message_t* batch[64];
  std::size_t polled = 0, next = 0;
  while (got < n && clock_type::now() < give_up) {
    if (next == polled) {
      next = polled = 0;
      batch[0] = rd_kafka_consumer_poll(rk, 100);
      if (batch[0] == nullptr) continue;
      polled = 1;
      if (batched)
        polled += static_cast<std::size_t>(std::max<ssize_t>(rd_kafka_consume_batch_queue(queue, 0, batch + 1, 63), 0));
    }
    rd_kafka_message_t* m = batch[next++];
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_t* h = nullptr;
      const void* id = nullptr;
      std::size_t size = 0;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(h, "Ferry-Id", &id, &size) == RD_KAFKA_RESP_ERR_NO_ERROR && id != nullptr) {
        if (got++ == 0) {
          start = clock_type::now();
          cpu = thread_cpu_ns();
        }
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);  // the "ack"
      }
    }
    rd_kafka_message_destroy(m);
  }
  const double secs = seconds_since(start);
  r.sub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(rate(got, n, secs));
  while (next < polled) rd_kafka_message_destroy(batch[next++]);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

// ferry: a subscription in a new group that acks each message in its callback.
void ferry_consume(const std::string& bootstrap, const std::string& topic, std::uint64_t n, runs& r) {
  auto t = ferry::kafka::connect(bootstrap, ferry_options());
  if (!t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  counter got;
  std::atomic<double> first_cpu{0}, last_cpu{0};
  std::atomic<std::int64_t> first_at{0};
  auto sub =
      (*t)->subscribe(topic, {.group = "ferry-" + ferry::new_id(), .max_in_flight = 4096}, [&](ferry::message m) {
        if (got.load(std::memory_order_relaxed) == 0) {
          first_at = clock_type::now().time_since_epoch().count();
          first_cpu = thread_cpu_ns();
        }
        m.ack();
        count_one(got, n, last_cpu);
      });
  if (!sub.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  wait_for(got, n);
  const double secs = seconds_since(clock_type::time_point(clock_type::duration(first_at.load())));
  r.sub_cpu.push_back((last_cpu.load() - first_cpu.load()) / static_cast<double>(n));
  r.rates.push_back(rate(got.load(), n, secs));
}

}  // namespace

void kafka_rows(int rounds, bool quick, const wanted_fn& wanted) {
  const bool pub_raw = wanted("kafka-pub-raw-inline"), pub_raw_batch = wanted("kafka-pub-raw-batch"),
             pub_raw_thread = wanted("kafka-pub-raw-thread"), pub_async = wanted("kafka-pub-async"),
             pub_reused = wanted("kafka-pub-reused"), pub_batch = wanted("kafka-pub-batch"),
             con_raw = wanted("kafka-consume-raw"), con_raw_batch = wanted("kafka-consume-raw-batch"),
             con_ferry = wanted("kafka-consume-ferry");
  if (!pub_raw && !pub_raw_batch && !pub_raw_thread && !pub_async && !pub_reused && !pub_batch && !con_raw &&
      !con_raw_batch && !con_ferry) {
    return;
  }
  auto cluster = ferry::kafka_mock::mock_cluster::start(3);
  if (!cluster.is_ok()) {
    std::printf("kafka mock cluster did not start: %s\n", cluster.status().to_string().c_str());
    return;
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  // The mock keeps the last 5 MiB of each partition: the consumed topic stays below that.
  const std::uint64_t pub_n = quick ? 50'000 : 200'000, con_n = quick ? 20'000 : 200'000;
  runs raw_p, raw_batch_p, raw_thread_p, async_p, reused_p, batch_p, raw_c, raw_batch_c, ferry_c;
  for (int i = 0; i < rounds; ++i) {
    auto topic = [&](const char* what, int partitions = 4) {
      const std::string t = std::string("bench.") + what + "." + std::to_string(i);
      (void)(*cluster)->run("topic " + t + " " + std::to_string(partitions));
      return t;
    };
    // Raw first in even rounds, ferry first in odd ones: neither side always runs on a warmer or
    // busier machine.
    const auto raw_rows = [&] {
      if (pub_raw) raw_publish(bootstrap, topic("raw"), pub_n, 0, raw_p);
      if (pub_raw_batch) raw_publish(bootstrap, topic("raw-batch"), pub_n, 256, raw_batch_p);
      if (pub_raw_thread) raw_publish(bootstrap, topic("raw-thread"), pub_n, 0, raw_thread_p, true);
    };
    const auto ferry_rows = [&] {
      if (pub_async) ferry_publish(bootstrap, topic("async"), pub_n, handover::fresh, 0, async_p);
      if (pub_reused) ferry_publish(bootstrap, topic("reused"), pub_n, handover::reused, 0, reused_p);
      if (pub_batch) ferry_publish(bootstrap, topic("batch"), pub_n, handover::batch, 256, batch_p);
    };
    if (i % 2 == 0) {
      raw_rows();
      ferry_rows();
    } else {
      ferry_rows();
      raw_rows();
    }
    if (con_raw || con_raw_batch || con_ferry) {
      const std::string t = topic("consume");
      runs fill;
      raw_publish(bootstrap, t, con_n, 0, fill);
      if (con_raw) raw_consume(bootstrap, t, con_n, raw_c);
      if (con_raw_batch) raw_consume(bootstrap, t, con_n, raw_batch_c, true);
      if (con_ferry) ferry_consume(bootstrap, t, con_n, ferry_c);
    }
  }
  if (pub_raw) raw_p.print("raw librdkafka, produce (acks=all)");
  if (pub_raw_batch) raw_batch_p.print("raw librdkafka, 256 at a time");
  if (pub_raw_thread) raw_thread_p.print("raw librdkafka, reports on a poll thread");
  if (pub_async) async_p.print("ferry kafka, publish_async, new messages");
  if (pub_reused) reused_p.print("ferry kafka, publish_async, one reused");
  if (pub_batch) batch_p.print("ferry kafka, publish(batch of 256)");
  if (con_raw) raw_c.print("raw librdkafka, consume + store offset");
  if (con_raw_batch) raw_batch_c.print("raw librdkafka, batched consume + store");
  if (con_ferry) ferry_c.print("ferry kafka, subscribe + ack");
  // Each ferry publish row against its raw counterpart, where both ran.
  struct pair_of_rows {
    const char* name;
    const runs& ferry;
    const runs& raw;
    bool ran;
  };
  const pair_of_rows pairs[] = {{"publish_async new", async_p, raw_p, pub_async && pub_raw},
                                {"publish_async reused", reused_p, raw_p, pub_reused && pub_raw},
                                {"publish(batch of 256)", batch_p, raw_batch_p, pub_batch && pub_raw_batch}};
  const auto ratios = [&](const char* how, double (*of)(const runs&, const runs&)) {
    std::string line;
    for (const pair_of_rows& p : pairs) {
      if (!p.ran) continue;
      char one[64];
      std::snprintf(one, sizeof one, "%s%s %.2f", line.empty() ? "" : ", ", p.name, of(p.ferry, p.raw));
      line += one;
    }
    if (!line.empty()) std::printf("ferry kafka / raw librdkafka (%s): %s\n", how, line.c_str());
  };
  ratios("medians", [](const runs& f, const runs& r) { return f.median() / r.median(); });
  ratios("median of the rounds' ratios", [](const runs& f, const runs& r) { return f.paired_ratio(r); });
  ratios("fastest runs", [](const runs& f, const runs& r) { return f.best() / r.best(); });
  if (con_raw && con_ferry) {
    std::printf("ferry kafka / raw librdkafka (medians): consume with ack %.2f\n", ferry_c.median() / raw_c.median());
  }
  if (con_raw_batch && con_ferry) {
    std::printf("ferry kafka / raw librdkafka batched the same way (medians): consume with ack %.2f\n",
                ferry_c.median() / raw_batch_c.median());
  }
}

}  // namespace throughput
