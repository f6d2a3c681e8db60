// The Redis codec without a server: a message as entry fields and back (through replies built
// here as hiredis would), entry ids, and what the transport refuses before sending anything.
#include "transport/redis/codec.h"

#include <gtest/gtest.h>

#include <deque>

#include "transport/redis/connection.h"

namespace ferry::redis::detail {
namespace {

// Replies shaped as hiredis returns an entry of XREADGROUP: [id, [field, value, ...]].
class fake_entry {
 public:
  fake_entry(std::string id, args& fields) : id_(std::move(id)) {
    for (int i = 0; i < fields.size(); ++i) strings_.emplace_back(fields.argv()[i], fields.lens()[i]);
    for (std::string& s : strings_) field_ptrs_.push_back(leaf(s));
    fields_ = {};
    fields_.type = REDIS_REPLY_ARRAY;
    fields_.elements = field_ptrs_.size();
    fields_.element = field_ptrs_.data();
    top_ptrs_ = {leaf(id_), &fields_};
    top_ = {};
    top_.type = REDIS_REPLY_ARRAY;
    top_.elements = 2;
    top_.element = top_ptrs_.data();
  }
  const redisReply* get() const { return &top_; }

 private:
  redisReply* leaf(std::string& s) {
    redisReply& r = leaves_.emplace_back();
    r = {};
    r.type = REDIS_REPLY_STRING;
    r.str = s.data();
    r.len = s.size();
    return &r;
  }
  std::string id_;
  std::deque<std::string> strings_;
  std::deque<redisReply> leaves_;
  std::vector<redisReply*> field_ptrs_, top_ptrs_;
  redisReply fields_{}, top_{};
};

TEST(RedisCodec, AMessageRoundTripsThroughItsFields) {
  message m("orders", std::string("pay\0load", 8));
  m.id = "id-1";
  m.key = "customer-7";
  m.reply = "replies#tok";
  m.headers.set("Content-Type", "application/json").add("Multi", "1").add("Multi", "2");
  args a;
  add_fields(m, "", a);
  const fake_entry e("1700000000123-5", a);
  message back;
  EXPECT_EQ(from_entry(e.get(), "orders", back), "");
  EXPECT_EQ(back.subject, "orders");
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(back.id, "id-1");
  EXPECT_EQ(back.key, "customer-7");
  EXPECT_EQ(back.reply, "replies#tok");
  EXPECT_EQ(back.headers, m.headers);
  EXPECT_EQ(back.delivery.stream_sequence, (1700000000123ULL << 16) | 5);
  EXPECT_EQ(back.delivery.published, std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123)));
  EXPECT_EQ(back.delivery.transport, "redis");
}

TEST(RedisCodec, AReplyCarriesItsTokenAndAForeignEntryGetsAnId) {
  message reply("replies", "answer");
  reply.id = "r-1";
  args a;
  add_fields(reply, "tok", a);
  const fake_entry e("5-0", a);
  message back;
  EXPECT_EQ(from_entry(e.get(), "replies", back), "tok");

  args plain;  // what redis-cli XADD s * payload hi color red writes
  plain.add("payload").add("hi").add("color").add("red");
  const fake_entry foreign("7-1", plain);
  message other;
  (void)from_entry(foreign.get(), "s", other);
  EXPECT_EQ(other.id, "s/7-1");
  EXPECT_EQ(other.payload, "hi");
  EXPECT_EQ(other.headers.value_or("color", ""), "red");
}

TEST(RedisCodec, EntryIdsParseAndPrint) {
  const entry_key k = entry_key::parse("1700000000123-42");
  EXPECT_EQ(k.ms, 1700000000123u);
  EXPECT_EQ(k.seq, 42u);
  EXPECT_EQ(k.str(), "1700000000123-42");
  EXPECT_EQ(entry_key::parse("9").str(), "9-0");
  EXPECT_EQ(k, entry_key::parse(k.str()));
}

TEST(RedisCodec, ReservedHeadersAndWildcardOrBlankStreamsAreRefused) {
  for (const char* name : {"payload", "ferry-id", "ferry-anything"}) {
    message m("s", "x");
    m.headers.set(name, "v");
    EXPECT_EQ(check_headers(m).code(), status_code::invalid_argument) << name;
  }
  message ok("s", "x");
  ok.headers.set("Ferry-Id", "case matters: not a field name");
  EXPECT_TRUE(check_headers(ok).is_ok());
  for (const char* bad : {"", "a b", "a\tb", "*", ">", "a.*", "a.>", "*.a", ">.a", "a.*.b", "a..b", "a\r\n"}) {
    EXPECT_EQ(check_stream(bad, subject_use::subscribe).code(), status_code::invalid_argument) << bad;
    EXPECT_EQ(check_stream(bad, subject_use::publish).code(), status_code::invalid_argument) << bad;
  }
  EXPECT_NE(check_stream("a.*", subject_use::subscribe).message().find("Redis streams have no wildcards"),
            std::string::npos);
  for (const char* good : {"orders", "order.created", "dlq.inventory"}) {
    EXPECT_TRUE(check_stream(good, subject_use::subscribe).is_ok()) << good;
    EXPECT_TRUE(check_stream(good, subject_use::publish).is_ok()) << good;
  }
  // A '*' inside a token is a literal character to NATS, but never part of a published subject.
  EXPECT_TRUE(check_stream("a*b", subject_use::subscribe).is_ok());
  EXPECT_EQ(check_stream("a*b", subject_use::publish).code(), status_code::invalid_argument);
}

}  // namespace
}  // namespace ferry::redis::detail
