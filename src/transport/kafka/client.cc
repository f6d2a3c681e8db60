#include "transport/kafka/client.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>
#include <thread>

#include "base/subject_check.h"

namespace ferry::kafka::detail {
namespace {

status_code code_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return status_code::deadline_exceeded;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
      return status_code::invalid_argument;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return status_code::not_found;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return status_code::permission_denied;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return status_code::unauthenticated;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return status_code::resource_exhausted;
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
      return status_code::cancelled;
    case RD_KAFKA_RESP_ERR__FATAL:
      return status_code::failed_precondition;
    default:
      return status_code::unavailable;  // the broker or network: worth trying again
  }
}

// librdkafka logs with syslog levels; its errors are mostly a broker going away, which the
// transport rides out, so they are warnings here.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // The properties of a URL go to the producer and the consumers alike: librdkafka's note that one
  // of them does not apply to this handle is no news.
  if (std::string_view(fac) == "CONFWARN") level = 7;
  const spdlog::level::level_enum lvl = level <= 4   ? spdlog::level::warn
                                        : level <= 6 ? spdlog::level::debug
                                                     : spdlog::level::trace;
  spdlog::log(lvl, "kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
}

bool topic_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

status from_rdkafka(rd_kafka_resp_err_t err, std::string_view what) {
  return {code_of(err), std::string(what) + ": " + rd_kafka_err2str(err)};
}

status check_topic(std::string_view topic) {
  if (topic.find_first_of("*>") != std::string_view::npos) {
    return invalid_argument("\"" + std::string(topic) +
                            "\": Kafka topics have no wildcards; subscribe to each topic by its full name");
  }
  FERRY_RETURN_IF_ERROR(check_subject(topic, subject_use::publish));  // what every transport refuses
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") {
    return invalid_argument("\"" + std::string(topic) + "\" is not a Kafka topic name (1 to 249 characters)");
  }
  for (char c : topic) {
    if (!topic_char(c)) {
      return invalid_argument("\"" + std::string(topic) +
                              "\" is not a Kafka topic name (letters, digits, '.', '_' and '-' only)");
    }
  }
  return status::ok();
}

status set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return invalid_argument("kafka property " + name + "=" + value + ": " + err);
  }
  return status::ok();
}

result<conf_ptr> make_conf(const std::string& bootstrap, const options& o, role r) {
  conf_ptr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  const auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", bootstrap},
      {"client.id", o.client_id},
      {"log.connection.close", "false"},  // idle connections closed by the broker are normal
      {"socket.nagle.disable", "true"},   // as Kafka's own clients: a request goes out at once
  };
  if (r == role::producer) {
    props.insert(props.end(), {
                                  {"enable.idempotence", "true"},  // acks=all, no duplicates, order kept
                                  {"linger.ms", "1"},
                                  {"message.timeout.ms", ms(o.publish_timeout)},
                              });
  } else {
    props.insert(props.end(), {
                                  {"enable.auto.commit", "false"},  // commits follow settlement
                                  {"enable.auto.offset.store", "false"},
                                  {"auto.offset.reset", "earliest"},  // a new group reads the whole log
                                  {"partition.assignment.strategy", "cooperative-sticky"},
                                  {"session.timeout.ms", ms(o.session_timeout)},
                                  {"heartbeat.interval.ms", ms(o.heartbeat_interval)},
                                  {"enable.partition.eof", "false"},
                                  // librdkafka 2.0 stops fetching once this many messages wait in
                                  // the local queue and looks again only about a second later:
                                  // leave the bound to queued.max.messages.kbytes (64 MiB).
                                  {"queued.min.messages", "10000000"},
                              });
  }
  for (const auto& [k, v] : props) FERRY_RETURN_IF_ERROR(set(conf.get(), k, v));
  for (const auto& [k, v] : o.properties) FERRY_RETURN_IF_ERROR(set(conf.get(), k, v));
  return conf;
}

result<rd_kafka_t*> make_handle(conf_ptr conf, rd_kafka_type_t type) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return invalid_argument(std::string("kafka: ") + err);
  (void)conf.release();  // rd_kafka_new took it
  return rk;
}

void close_consumer_only(rd_kafka_t* rk, const std::string& what) {
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_consumer_closed(rk) == 0) {
    spdlog::warn("kafka: closing the consumer of {} ended with {}{}", what, rd_kafka_err2name(err),
                 rd_kafka_consumer_closed(rk) == 0 ? " before its group was done" : "");
  }
}

void destroy_consumer(rd_kafka_t* rk, const std::string& what, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> destroyed = done->get_future();
  std::thread([rk, done] {
    pthread_setname_np(pthread_self(), "ferry-kafka-end");
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    done->set_value();
  }).detach();
  if (destroyed.wait_for(limit) == std::future_status::ready) return;
  spdlog::error(
      "kafka: librdkafka did not release the consumer of {} within {} ms (a librdkafka 2.0 bug in "
      "leaving a group); left to its threads, its group will drop it after session_timeout",
      what, limit.count());
}

void close_consumer(rd_kafka_t* rk, const std::string& what) {
  close_consumer_only(rk, what);
  destroy_consumer(rk, what);
}

result<std::vector<std::int32_t>> topic_partitions(rd_kafka_t* rk, const std::string& topic,
                                                   std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) return from_rdkafka(rd_kafka_last_error(), "topic " + topic);
  const auto end = std::chrono::steady_clock::now() + timeout;
  status last = unavailable("no Kafka broker answered about topic " + topic + " within " +
                            std::to_string(timeout.count()) + " ms");
  std::vector<std::int32_t> ids;
  while (ids.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(left.count()));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
      const rd_kafka_metadata_topic_t& t = md->topics[0];
      err = t.err;
      bool leaders = t.partition_cnt > 0;
      for (int i = 0; i < t.partition_cnt; ++i) leaders = leaders && t.partitions[i].leader >= 0;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && leaders) {
        for (int i = 0; i < t.partition_cnt; ++i) ids.push_back(t.partitions[i].id);
      }
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      last = not_found("Kafka topic " + topic + " does not exist (and the brokers did not create it)");
      break;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) last = from_rdkafka(err, "topic " + topic);
    if (ids.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  rd_kafka_topic_destroy(rkt);
  if (ids.empty()) return last;
  return ids;
}

result<std::vector<std::int64_t>> assign_from_end(rd_kafka_t* consumer, const std::string& topic,
                                                  const std::vector<std::int32_t>& partitions,
                                                  std::chrono::milliseconds timeout) {
  partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  std::vector<std::int64_t> ends;
  for (std::int32_t p : partitions) {
    std::int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(consumer, topic.c_str(), p, &low, &high, static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return from_rdkafka(err, "reading the end of " + topic + " [" + std::to_string(p) + "]");
    }
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = high;
    ends.push_back(high);
  }
  if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer, list.get())) {
    status s = from_rdkafka(rd_kafka_error_code(e), "assigning " + topic);
    rd_kafka_error_destroy(e);
    return s;
  }
  return ends;
}

}  // namespace ferry::kafka::detail
