// The store semantics every implementation shares: appending, loading, filters, removing,
// per-subject state and pending counts, plus a randomized run against a naive model.
// Limits are in store_limits_test.cc, purges in store_purge_test.cc.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

class StoreBasics : public store_test {};
FERRY_STORE_SUITE(StoreBasics);

TEST_P(StoreBasics, EmptyStore) {
  const store_state st = s_->state();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.first_seq, stream_seq{1});
  EXPECT_EQ(st.last_seq, stream_seq{0});
  EXPECT_EQ(st.num_deleted, 0u);
  EXPECT_EQ(s_->load(stream_seq{1}).status().code(), status_code::not_found);
  EXPECT_EQ(s_->load(stream_seq{0}).status().code(), status_code::not_found);
  EXPECT_EQ(s_->load_next(stream_seq{0}, "").status().code(), status_code::not_found);
  EXPECT_EQ(s_->load_last("").status().code(), status_code::not_found);
  EXPECT_EQ(s_->last_seq_of("a"), 0u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, ""), 0u);
  EXPECT_TRUE(s_->subjects("").empty());
  EXPECT_TRUE(s_->deleted().empty());
}

TEST_P(StoreBasics, AppendAssignsSequencesAndLoadReturnsEverything) {
  const std::string hdr = "NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n";
  EXPECT_EQ(put("orders.new", "one", hdr, 111), 1u);
  EXPECT_EQ(put("orders.paid", "two", "", 222), 2u);
  EXPECT_EQ(put("orders.new", "", "", 333), 3u);
  auto m = s_->load(stream_seq{1});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->seq, stream_seq{1});
  EXPECT_EQ(m->subject, "orders.new");
  EXPECT_EQ(m->headers, hdr);
  EXPECT_EQ(m->data, "one");
  EXPECT_EQ(m->timestamp_ns, 111);
  EXPECT_EQ(s_->load(stream_seq{3})->data, "");
  EXPECT_EQ(s_->load(stream_seq{4}).status().code(), status_code::not_found);

  const store_state st = s_->state();
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.bytes, size("orders.new", hdr, "one") + size("orders.paid", "", "two") + size("orders.new", "", ""));
  EXPECT_EQ(st.first_seq, stream_seq{1});
  EXPECT_EQ(st.last_seq, stream_seq{3});
  EXPECT_EQ(st.first_ts_ns, 111);
  EXPECT_EQ(st.last_ts_ns, 333);
  EXPECT_EQ(st.num_subjects, 2u);
  EXPECT_TRUE(st.lost.empty());
}

TEST_P(StoreBasics, ByteAccountingMatchesNatsServer) {
  put("foo", "hello", "");
  put("foo", "hello", "NATS/1.0\r\n\r\n");
  // memStoreMsgSize: subject + headers + data + 16; fileStoreMsgSize: subject + data + 30
  // (+ headers + 4 with headers).
  if (is_file()) {
    EXPECT_EQ(s_->state().bytes, (3u + 5 + 30) + (3u + 12 + 5 + 34));
  } else {
    EXPECT_EQ(s_->state().bytes, (3u + 5 + 16) + (3u + 12 + 5 + 16));
  }
}

TEST_P(StoreBasics, RejectsEmptySubjectAndOversizedSubject) {
  EXPECT_EQ(s_->append("", "", "x", 1).status().code(), status_code::invalid_argument);
  EXPECT_EQ(s_->append(std::string(70000, 'a'), "", "x", 1).status().code(), status_code::invalid_argument);
  EXPECT_EQ(s_->state().last_seq, stream_seq{0});
}

TEST_P(StoreBasics, LoadNextWithFilters) {
  put("a.1");  // 1
  put("a.2");  // 2
  put("b.1");  // 3
  put("a.1");  // 4
  put("b.2.x");  // 5
  auto seq_of = [&](std::uint64_t from, std::string_view f) -> std::uint64_t {
    auto m = s_->load_next(stream_seq{from}, f);
    return m.is_ok() ? m->seq.value : 0;
  };
  EXPECT_EQ(seq_of(0, ""), 1u);
  EXPECT_EQ(seq_of(2, ""), 2u);
  EXPECT_EQ(seq_of(2, "a.1"), 4u);
  EXPECT_EQ(seq_of(1, "a.*"), 1u);
  EXPECT_EQ(seq_of(3, "a.*"), 4u);
  EXPECT_EQ(seq_of(1, "b.>"), 3u);
  EXPECT_EQ(seq_of(4, "b.>"), 5u);
  EXPECT_EQ(seq_of(1, "*.2"), 2u);
  EXPECT_EQ(seq_of(3, "*.2"), 0u);
  EXPECT_EQ(seq_of(1, ">"), 1u);
  EXPECT_EQ(seq_of(1, "c"), 0u);
  EXPECT_EQ(seq_of(6, ""), 0u);
  EXPECT_EQ(s_->load_next(stream_seq{5}, "a.*").status().code(), status_code::not_found);
  ASSERT_TRUE(s_->remove(stream_seq{4}, false).is_ok());
  EXPECT_EQ(seq_of(2, "a.1"), 0u);
  EXPECT_EQ(seq_of(4, ""), 5u);
}

TEST_P(StoreBasics, LoadLastAndLastSeqOf) {
  put("a.1");
  put("a.2");
  put("b.1");
  put("a.1");
  EXPECT_EQ(s_->load_last("")->seq, stream_seq{4});
  EXPECT_EQ(s_->load_last("a.2")->seq, stream_seq{2});
  EXPECT_EQ(s_->load_last("b.*")->seq, stream_seq{3});
  EXPECT_EQ(s_->load_last("*.1")->seq, stream_seq{4});
  EXPECT_EQ(s_->load_last("c.>").status().code(), status_code::not_found);
  EXPECT_EQ(s_->last_seq_of("a.1"), 4u);
  EXPECT_EQ(s_->last_seq_of("a.*"), 0u);  // exact subjects only
  EXPECT_EQ(s_->last_seq_of("zz"), 0u);
  ASSERT_TRUE(s_->remove(stream_seq{4}, false).is_ok());
  EXPECT_EQ(s_->last_seq_of("a.1"), 1u);
  EXPECT_EQ(s_->load_last("")->seq, stream_seq{3});
  ASSERT_TRUE(s_->remove(stream_seq{1}, false).is_ok());
  EXPECT_EQ(s_->last_seq_of("a.1"), 0u);
}

TEST_P(StoreBasics, RemoveLeavesGapsAndMovesFirst) {
  for (int i = 0; i < 5; ++i) put("s", std::to_string(i + 1));
  EXPECT_EQ(s_->remove(stream_seq{9}, false).code(), status_code::not_found);
  ASSERT_TRUE(s_->remove(stream_seq{3}, false).is_ok());
  EXPECT_EQ(s_->remove(stream_seq{3}, false).code(), status_code::not_found);
  EXPECT_EQ(s_->load(stream_seq{3}).status().code(), status_code::not_found);
  store_state st = s_->state();
  EXPECT_EQ(st.msgs, 4u);
  EXPECT_EQ(st.num_deleted, 1u);
  EXPECT_EQ(s_->deleted(), std::vector<std::uint64_t>{3});
  EXPECT_EQ(st.bytes, 4 * size("s", "", "1"));

  ASSERT_TRUE(s_->remove(stream_seq{1}, false).is_ok());
  ASSERT_TRUE(s_->remove(stream_seq{2}, false).is_ok());
  st = s_->state();
  EXPECT_EQ(st.first_seq, stream_seq{4});  // the gap at 3 is no longer interior
  EXPECT_EQ(st.first_ts_ns, 4000);
  EXPECT_EQ(st.num_deleted, 0u);
  EXPECT_TRUE(s_->deleted().empty());

  ASSERT_TRUE(s_->remove(stream_seq{5}, false).is_ok());  // the last: last_seq stays
  st = s_->state();
  EXPECT_EQ(st.last_seq, stream_seq{5});
  EXPECT_EQ(st.last_ts_ns, 5000);
  ASSERT_TRUE(s_->remove(stream_seq{4}, true).is_ok());
  st = s_->state();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.first_seq, stream_seq{6});
  EXPECT_EQ(st.last_seq, stream_seq{5});
  EXPECT_EQ(st.num_subjects, 0u);
  EXPECT_EQ(put("s"), 6u);
}

TEST_P(StoreBasics, EraseRemovesLikeRemove) {
  put("a", "secret-1");
  put("a", "secret-2");
  put("a", "secret-3");
  flush();
  ASSERT_TRUE(s_->remove(stream_seq{2}, true).is_ok());
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::not_found);
  EXPECT_EQ(data_at(1), "secret-1");
  EXPECT_EQ(data_at(3), "secret-3");
  EXPECT_EQ(s_->deleted(), std::vector<std::uint64_t>{2});
}

TEST_P(StoreBasics, SubjectsCountsPerSubject) {
  put("a.1");
  put("a.2");
  put("a.1");
  put("b.1");
  using counts = std::map<std::string, std::uint64_t>;
  EXPECT_EQ(s_->subjects(""), (counts{{"a.1", 2}, {"a.2", 1}, {"b.1", 1}}));
  EXPECT_EQ(s_->subjects("a.*"), (counts{{"a.1", 2}, {"a.2", 1}}));
  EXPECT_EQ(s_->subjects("a.1"), (counts{{"a.1", 2}}));
  EXPECT_EQ(s_->subjects("*.1"), (counts{{"a.1", 2}, {"b.1", 1}}));
  EXPECT_TRUE(s_->subjects("c").empty());
  ASSERT_TRUE(s_->remove(stream_seq{2}, false).is_ok());
  EXPECT_EQ(s_->subjects(">"), (counts{{"a.1", 2}, {"b.1", 1}}));
  EXPECT_EQ(s_->state().num_subjects, 2u);
}

TEST_P(StoreBasics, NumPending) {
  for (int i = 0; i < 10; ++i) put(i % 2 ? "odd." + std::to_string(i) : "even");
  ASSERT_TRUE(s_->remove(stream_seq{5}, false).is_ok());  // "even"
  EXPECT_EQ(s_->num_pending(stream_seq{0}, ""), 9u);
  EXPECT_EQ(s_->num_pending(stream_seq{1}, ""), 9u);
  EXPECT_EQ(s_->num_pending(stream_seq{4}, ""), 6u);
  EXPECT_EQ(s_->num_pending(stream_seq{9}, ""), 2u);
  EXPECT_EQ(s_->num_pending(stream_seq{11}, ""), 0u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, "even"), 4u);
  EXPECT_EQ(s_->num_pending(stream_seq{4}, "even"), 2u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, "odd.*"), 5u);
  EXPECT_EQ(s_->num_pending(stream_seq{5}, "odd.>"), 3u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, "odd.3"), 1u);
  EXPECT_EQ(s_->num_pending(stream_seq{5}, "odd.3"), 0u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, "none"), 0u);
}

TEST_P(StoreBasics, ManySubjectsUseEveryQueryPath) {
  // Many subjects over a short range, and few subjects over a long one, take different paths.
  for (int i = 0; i < 300; ++i) put("k." + std::to_string(i % 150) + (i % 3 ? ".x" : ".y"));
  for (int i = 0; i < 300; i += 7) ASSERT_TRUE(s_->remove(stream_seq{static_cast<std::uint64_t>(i + 1)}, false).is_ok());
  std::uint64_t naive = 0;
  for (std::uint64_t s = 250; s <= 300; ++s) {
    auto m = s_->load(stream_seq{s});
    if (m.is_ok() && subject_filter_matches("k.*.y", m->subject)) ++naive;
  }
  EXPECT_EQ(s_->num_pending(stream_seq{250}, "k.*.y"), naive);
  EXPECT_EQ(s_->load_last("k.*.y")->subject.substr(s_->load_last("k.*.y")->subject.size() - 2), ".y");
  EXPECT_EQ(s_->load_next(stream_seq{299}, "k.>")->seq, stream_seq{299});
}

TEST_P(StoreBasics, ClosedStoreRefusesEverything) {
  put("a");
  ASSERT_TRUE(s_->close().is_ok());
  EXPECT_EQ(s_->append("a", "", "x", 1).status().code(), status_code::failed_precondition);
  EXPECT_EQ(s_->load(stream_seq{1}).status().code(), status_code::failed_precondition);
  EXPECT_EQ(s_->remove(stream_seq{1}, false).code(), status_code::failed_precondition);
  EXPECT_EQ(s_->purge({}).status().code(), status_code::failed_precondition);
  EXPECT_EQ(s_->update_limits({}).code(), status_code::failed_precondition);
  status got;
  s_->flush_then([&got](status s) { got = std::move(s); });
  EXPECT_EQ(got.code(), status_code::failed_precondition);
  EXPECT_TRUE(s_->close().is_ok());  // idempotent
  s_.reset();
}

// A naive model of the store, to compare against after random operations.
struct model {
  std::map<std::uint64_t, std::string> msgs;  // seq -> subject
  std::uint64_t last = 0;
};

TEST_P(StoreBasics, RandomOperationsMatchAModel) {
  std::mt19937 rng(7);
  const std::vector<std::string> subjects = {"a.x", "a.y", "b.x", "b.y.z", "c"};
  const std::vector<std::string> filters = {"", "a.x", "a.*", "*.x", "b.>", ">", "c", "none"};
  model m;
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  for (int op = 0; op < 1500; ++op) {
    const std::size_t what = pick(100);
    if (what < 60) {
      const std::string& subj = subjects[pick(subjects.size())];
      m.msgs[put(subj, "d" + std::to_string(op))] = subj;
      m.last = s_->state().last_seq.value;
    } else if (what < 85 && !m.msgs.empty()) {
      auto it = m.msgs.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(pick(m.msgs.size())));
      ASSERT_TRUE(s_->remove(stream_seq{it->first}, what % 2 == 0).is_ok());
      m.msgs.erase(it);
    } else if (what < 88) {
      purge_request req;
      req.filter = filters[pick(filters.size())];
      if (pick(2)) req.up_to = stream_seq{m.last > 0 ? 1 + pick(m.last + 1) : 1};
      if (pick(2)) req.keep = pick(4);
      // Model: matches below up_to, except the newest `keep` matches.
      std::vector<std::uint64_t> match;
      for (const auto& [s, subj] : m.msgs) {
        if (subject_filter_matches(req.filter, subj)) match.push_back(s);
      }
      std::uint64_t cutoff = req.up_to ? req.up_to->value : UINT64_MAX;
      if (req.keep && *req.keep > 0) cutoff = match.size() > *req.keep ? std::min(cutoff, match[match.size() - *req.keep]) : 0;
      std::uint64_t n = 0;
      for (const std::uint64_t s : match) {
        if (s < cutoff) {
          m.msgs.erase(s);
          ++n;
        }
      }
      const bool jump = req.filter.empty() && !(req.keep && *req.keep > 0) && req.up_to && req.up_to->value > m.last + 1;
      if (jump) m.last = req.up_to->value - 1;
      auto r = s_->purge(req);
      ASSERT_TRUE(r.is_ok());
      EXPECT_EQ(*r, n) << "filter " << req.filter;
    } else if (what < 90) {
      flush();
    } else if (what < 91 && reopen()) {
      continue;
    }
    // Queries.
    const std::string& f = filters[pick(filters.size())];
    const std::uint64_t from = pick(m.last + 2);
    std::uint64_t pending = 0;
    std::uint64_t next = 0;
    std::uint64_t lastm = 0;
    std::map<std::string, std::uint64_t> counts;
    for (const auto& [s, subj] : m.msgs) {
      if (!subject_filter_matches(f, subj)) continue;
      ++counts[subj];
      lastm = s;
      if (s >= from) {
        ++pending;
        if (next == 0) next = s;
      }
    }
    ASSERT_EQ(s_->num_pending(stream_seq{from}, f), pending) << "op " << op << " filter " << f << " from " << from;
    auto nm = s_->load_next(stream_seq{from}, f);
    ASSERT_EQ(nm.is_ok() ? nm->seq.value : 0, next) << "op " << op;
    auto lm = s_->load_last(f);
    ASSERT_EQ(lm.is_ok() ? lm->seq.value : 0, lastm) << "op " << op;
    ASSERT_EQ(s_->subjects(f), counts);
    const store_state st = s_->state();
    ASSERT_EQ(st.msgs, m.msgs.size());
    ASSERT_EQ(st.last_seq.value, m.last);
    ASSERT_EQ(st.first_seq.value, m.msgs.empty() ? m.last + 1 : m.msgs.begin()->first);
    std::vector<std::uint64_t> gaps;
    if (!m.msgs.empty()) {
      for (std::uint64_t s = m.msgs.begin()->first; s <= m.last; ++s) {
        if (!m.msgs.count(s)) gaps.push_back(s);
      }
    }
    ASSERT_EQ(s_->deleted(), gaps);
    ASSERT_EQ(st.num_deleted, gaps.size());
  }
}

// A memory stream keeps no files beside it: asking it to sync one is refused, not ignored.
TEST(MemoryStore, RefusesToSyncASideFile) {
  auto s = make_memory_store({});
  status got;
  s->sync_file_then(nullptr, [&](status st) { got = std::move(st); });
  EXPECT_EQ(got.code(), status_code::failed_precondition);
}

}  // namespace
}  // namespace ferry::store::testing
