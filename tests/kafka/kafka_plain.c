/* kafka_plain: a plain librdkafka program that knows nothing of ferry, for the interop tests.
 *
 *   kafka_plain produce BOOTSTRAP TOPIC COUNT   produces COUNT messages: key "key-<i>", value
 *                                               "value-<i>" followed by the bytes 0x00 0xff, headers
 *                                               "plain-index: <i>", "plain-bin: 0x00 0x0d 0x0a" and
 *                                               "plain-multi" twice ("a", "b"); waits for every
 *                                               delivery report
 *   kafka_plain consume BOOTSTRAP TOPIC COUNT   reads COUNT messages from the start of every
 *                                               partition (no group offsets) and prints one line
 *                                               each: key=HEX value=HEX then header NAME=HEX ...
 * Exit status 0 on success, 1 on any error (printed to stderr). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const void* p, size_t n) {
  const unsigned char* b = p;
  for (size_t i = 0; i < n; ++i) printf("%02x", b[i]);
}

static rd_kafka_t* make(rd_kafka_type_t type, const char* bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK ||
      (type == RD_KAFKA_CONSUMER &&
       (rd_kafka_conf_set(conf, "group.id", "kafka-plain", err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err) != RD_KAFKA_CONF_OK))) {
    fprintf(stderr, "kafka_plain: %s\n", err);
    exit(1);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "kafka_plain: %s\n", err);
    exit(1);
  }
  return rk;
}

static int failures = 0;
static void on_report(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    fprintf(stderr, "kafka_plain: delivery failed: %s\n", rd_kafka_err2str(m->err));
    ++failures;
  }
}

static int produce(const char* bootstrap, const char* topic, int count) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
  rd_kafka_conf_set_dr_msg_cb(conf, on_report);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "kafka_plain: %s\n", err);
    return 1;
  }
  for (int i = 0; i < count; ++i) {
    char key[32], value[40], index[16];
    snprintf(key, sizeof key, "key-%d", i);
    int n = snprintf(value, sizeof value, "value-%d", i);
    value[n] = 0x00;
    value[n + 1] = (char)0xff;
    snprintf(index, sizeof index, "%d", i);
    rd_kafka_headers_t* h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "plain-index", -1, index, -1);
    rd_kafka_header_add(h, "plain-bin", -1, "\0\r\n", 3);
    rd_kafka_header_add(h, "plain-multi", -1, "a", 1);
    rd_kafka_header_add(h, "plain-multi", -1, "b", 1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, (size_t)n + 2),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (e) {
      fprintf(stderr, "kafka_plain: produce: %s\n", rd_kafka_err2str(e));
      return 1;
    }
  }
  if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "kafka_plain: flush timed out\n");
    return 1;
  }
  rd_kafka_destroy(rk);
  return failures ? 1 : 0;
}

static int consume(const char* bootstrap, const char* topic, int count) {
  rd_kafka_t* rk = make(RD_KAFKA_CONSUMER, bootstrap);
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t* md = NULL;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
    fprintf(stderr, "kafka_plain: no metadata for %s\n", topic);
    return 1;
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int i = 0; i < md->topics[0].partition_cnt; ++i)
    rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  int got = 0, idle = 0;
  while (got < count && idle < 300) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) {
      ++idle;
      continue;
    }
    if (m->err) {
      fprintf(stderr, "kafka_plain: %s\n", rd_kafka_message_errstr(m));
    } else {
      printf("key=");
      hex(m->key, m->key_len);
      printf(" value=");
      hex(m->payload, m->len);
      rd_kafka_headers_t* h = NULL;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* v;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          printf(" %s=", name);
          hex(v, size);
        }
      }
      printf("\n");
      ++got;
      idle = 0;
    }
    rd_kafka_message_destroy(m);
  }
  fflush(stdout);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (got < count) fprintf(stderr, "kafka_plain: read %d of %d messages\n", got, count);
  return got < count ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: kafka_plain produce|consume BOOTSTRAP TOPIC COUNT\n");
    return 2;
  }
  const int count = atoi(argv[4]);
  if (strcmp(argv[1], "produce") == 0) return produce(argv[2], argv[3], count);
  if (strcmp(argv[1], "consume") == 0) return consume(argv[2], argv[3], count);
  fprintf(stderr, "kafka_plain: unknown mode %s\n", argv[1]);
  return 2;
}
