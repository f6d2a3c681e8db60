// The dead letters of the shop on Kafka: a plain librdkafka consumer that reads the dlq.<service>
// topics from the start of each partition to its end (high watermark) as of the call, without a
// group (nothing committed), like the JetStream API reads the DLQ stream on NATS.
#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>

#include "bus_probe.h"
#include "events.h"
#include "ferry/connect.h"
#include "ferry/message.h"

namespace shop::load {
namespace {

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

std::string header(rd_kafka_headers_t* h, std::string_view name) {
  const void* v = nullptr;
  std::size_t size = 0;
  if (h == nullptr || rd_kafka_header_get_last(h, std::string(name).c_str(), &v, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      v == nullptr) {
    return {};
  }
  return {static_cast<const char*>(v), size};
}

}  // namespace

ferry::result<std::vector<broker_probe::dead_letter>> kafka_dead_letters(const std::string& url) {
  FERRY_ASSIGN_OR_RETURN(ferry::transport_url u, ferry::parse_transport_url(url));
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", u.hosts.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", ("shop-load-dlq-" + ferry::new_id()).c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return ferry::invalid_argument(err);
  }
  std::unique_ptr<rd_kafka_t, handle_deleter> rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err));
  if (!rk) return ferry::unavailable(err);
  rd_kafka_poll_set_consumer(rk.get());
  rd_kafka_topic_partition_list_t* assign = rd_kafka_topic_partition_list_new(16);
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> ends;  // what is left to read
  for (const char* service : {"order", "inventory", "payment", "notification"}) {
    const std::string topic = std::string(subject::dlq_prefix) + service;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
        const std::int32_t p = md->topics[0].partitions[i].id;
        std::int64_t low = 0, high = 0;
        if (rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            high <= low) {
          continue;
        }
        rd_kafka_topic_partition_list_add(assign, topic.c_str(), p)->offset = low;
        ends[{topic, p}] = high;
      }
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
  }
  rd_kafka_assign(rk.get(), assign);
  rd_kafka_topic_partition_list_destroy(assign);
  std::vector<broker_probe::dead_letter> out;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ends.empty() && std::chrono::steady_clock::now() < give_up) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_t* h = nullptr;
      rd_kafka_message_headers(m, &h);
      const std::string topic = rd_kafka_topic_name(m->rkt);
      out.push_back({.subject = topic,
                     .origin = header(h, ferry::header::dead_letter_subject),
                     .reason = header(h, ferry::header::dead_letter_reason)});
      auto it = ends.find({topic, m->partition});
      if (it != ends.end() && m->offset + 1 >= it->second) ends.erase(it);
    }
    rd_kafka_message_destroy(m);
  }
  if (!ends.empty()) return ferry::deadline_exceeded("reading the dead-letter topics took longer than 30 s");
  return out;
}

}  // namespace shop::load
