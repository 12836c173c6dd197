// kv_store_test.cc - handler key/value records: round trips, isolation, listing, limits,
// against both backends (backend_fixture.h; part of store_backend_suite_test), and shared by
// two PostgreSQL hosts.
#include "store/kv_store.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace threadmill::store {
namespace {

class store_kv : public testing::BackendFixture {
 protected:
  void SetUp() override {
    BackendFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    env_ = Host(0);
    ASSERT_TRUE(env_);
    kv_ = std::make_unique<KvStore>(env_, [this] { return now_; });
  }
  void Put(const std::string& handler, const std::string& key, const std::string& value) {
    Status st = kv_->Put(handler, key, value);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::vector<std::string> Keys(const std::string& handler, const std::string& prefix,
                                size_t limit) {
    auto list = kv_->List(handler, prefix, limit, false);
    EXPECT_TRUE(list.ok()) << list.error().message;
    std::vector<std::string> keys;
    if (list.ok()) {
      for (const KvEntry& e : *list) {
        keys.push_back(e.key);
        EXPECT_TRUE(e.value.empty());
      }
    }
    return keys;
  }

  int64_t now_ = 1'000'000;
  std::shared_ptr<Environment> env_;
  std::unique_ptr<KvStore> kv_;
};

TEST_P(store_kv, PutGetDeleteRoundTrip) {
  const std::string binary("v\0a\xffl", 5);
  struct Case {
    std::string key;
    std::string value;
  };
  const Case cases[] = {
      {"plain", "value"},
      {std::string("bin\0key", 7), binary},
      {"empty-value", ""},
      {std::string(600, 'k'), "long key"},
      {std::string("\x01mark"), "marked"},
  };
  for (const Case& c : cases) Put("h", c.key, c.value);
  for (const Case& c : cases) {
    auto got = kv_->Get("h", c.key);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, c.value) << c.key.substr(0, 10);
  }
  Put("h", "plain", "replaced");
  EXPECT_EQ(*kv_->Get("h", "plain"), "replaced");
  for (const Case& c : cases) {
    auto del = kv_->Delete("h", c.key);
    ASSERT_TRUE(del.ok());
    EXPECT_TRUE(*del);
    EXPECT_FALSE(kv_->Get("h", c.key)->has_value());
    EXPECT_FALSE(*kv_->Delete("h", c.key));
  }
}

TEST_P(store_kv, HandlersAreIsolated) {
  Put("a", "k", "from-a");
  Put("ab", "k", "from-ab");
  Put("a", "bk", "a-bk");
  EXPECT_EQ(*kv_->Get("a", "k"), "from-a");
  EXPECT_EQ(*kv_->Get("ab", "k"), "from-ab");
  EXPECT_FALSE(kv_->Get("b", "k")->has_value());
  EXPECT_EQ(Keys("a", "", 100), (std::vector<std::string>{"bk", "k"}));
  EXPECT_EQ(Keys("ab", "", 100), std::vector<std::string>{"k"});
}

TEST_P(store_kv, ListByPrefixWithLimitsInKeyOrder) {
  const std::string long_a = "user:" + std::string(600, 'a');
  const std::string long_z = "user:" + std::string(600, 'z');
  for (std::string k :
       {"user:bob", "user:alice", "user:carol", "other", "user", "users:x", "zzz"}) {
    Put("h", k, "v-" + k);
  }
  Put("h", long_z, "long-z");
  Put("h", long_a, "long-a");
  Put("h", "\x01raw", "hashed-short");
  struct Case {
    std::string prefix;
    size_t limit;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"user:", 100, {long_a, "user:alice", "user:bob", "user:carol", long_z}},
      {"user:", 2, {long_a, "user:alice"}},
      {"user:b", 100, {"user:bob"}},
      {"user", 3, {"user", long_a, "user:alice"}},
      {"nothing", 100, {}},
      {"", 2, {"\x01raw", "other"}},
      {"\x01", 10, {"\x01raw"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Keys("h", c.prefix, c.limit), c.want)
        << "prefix=" << c.prefix << " limit=" << c.limit;
  }
  EXPECT_EQ(Keys("h", "", 100).size(), 10u);
  EXPECT_EQ(Keys("h", "", 0).size(), 10u) << "limit 0 means the maximum";
  auto with_values = kv_->List("h", "user:", 100, true);
  ASSERT_TRUE(with_values.ok());
  ASSERT_EQ(with_values->size(), 5u);
  EXPECT_EQ((*with_values)[0], (KvEntry{long_a, "long-a"}));
  EXPECT_EQ((*with_values)[1], (KvEntry{"user:alice", "v-user:alice"}));
}

TEST_P(store_kv, LimitsAreInvalidInput) {
  const std::string max_value(kMaxKvValueBytes, 'v');
  EXPECT_TRUE(kv_->Put("h", "big", max_value).ok());
  EXPECT_EQ(kv_->Get("h", "big")->value().size(), kMaxKvValueBytes);
  struct Case {
    std::string handler;
    std::string key;
    size_t value_size;
  };
  const Case cases[] = {
      {"h", "toobig", kMaxKvValueBytes + 1},
      {"", "k", 1},
      {std::string(kMaxHandlerNameBytes + 1, 'h'), "k", 1},
      {std::string("h\0x", 3), "k", 1},
      {"h", "", 1},
      {"h", std::string(kMaxKvKeyBytes + 1, 'k'), 1},
  };
  for (const Case& c : cases) {
    Status st = kv_->Put(c.handler, c.key, std::string(c.value_size, 'v'));
    ASSERT_FALSE(st.ok()) << c.handler.size() << "/" << c.key.size();
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidInput);
  }
  EXPECT_FALSE(kv_->List("", "", 10, false).ok());
  EXPECT_FALSE(kv_->Get("h", "").ok());
}

TEST_P(store_kv, StartAfterPagesThroughEveryKeyOnce) {
  // Direct and hashed keys mixed, more than one page; each page starts after the last key.
  std::vector<std::string> all;
  for (int i = 0; i < 25; ++i) all.push_back("item:" + std::to_string(1000 + i));
  all.push_back("item:" + std::string(500, 'm'));  // hashed, sorts among the direct ones
  all.push_back(std::string("item:\x01x"));        // direct key with a low byte
  for (const std::string& k : all) Put("h", k, "v");
  Put("h", "other", "v");
  std::sort(all.begin(), all.end());
  for (size_t page : {1u, 4u, 7u, 27u, 100u}) {
    std::vector<std::string> seen;
    std::string after;
    for (int guard = 0; guard < 100; ++guard) {
      auto got = kv_->List("h", "item:", page, false, after);
      ASSERT_TRUE(got.ok()) << got.error().message;
      for (const KvEntry& e : *got) seen.push_back(e.key);
      if (got->size() < page) break;
      after = got->back().key;
    }
    EXPECT_EQ(seen, all) << "page=" << page;
  }
  struct Case {
    std::string prefix;
    std::string after;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"item:1", "item:1023", {"item:1024"}},
      {"item:1", "item:10235", {"item:1024"}},  // a start_after that is not a key
      {"item:1", "item:2", {}},                 // past the prefix
      {"item:1024", "a", {"item:1024"}},        // before the prefix
      {"", "item:" + std::string(500, 'm'), {"other"}},
      {"", std::string(kMaxKvKeyBytes, 'z'), {}},
  };
  for (const Case& c : cases) {
    auto got = kv_->List("h", c.prefix, 10, false, c.after);
    ASSERT_TRUE(got.ok()) << got.error().message;
    std::vector<std::string> keys;
    for (const KvEntry& e : *got) keys.push_back(e.key);
    EXPECT_EQ(keys, c.want) << c.prefix << " after " << c.after.substr(0, 20);
  }
  EXPECT_FALSE(kv_->List("h", "", 10, false, std::string(kMaxKvKeyBytes + 1, 'z')).ok());
}

TEST_P(store_kv, TtlRecordsExpireAndAreSwept) {
  const std::string long_key = "t:" + std::string(700, 'l');
  Put("h", "keep", "forever");
  ASSERT_TRUE(kv_->Put("h", "t:short", "s", 10).ok());
  ASSERT_TRUE(kv_->Put("h", long_key, "l", 10).ok());
  ASSERT_TRUE(kv_->Put("h", "t:later", "x", 100).ok());
  ASSERT_TRUE(kv_->Put("h", "t:cleared", "c", 10).ok());
  Put("h", "t:cleared", "c2");  // a put without TTL drops the earlier TTL
  EXPECT_EQ(*kv_->Get("h", "t:short"), "s");
  EXPECT_EQ(Keys("h", "t:", 0).size(), 4u);
  now_ += 9;
  EXPECT_EQ(*kv_->Get("h", long_key), "l");
  now_ += 1;  // exactly at expiry: gone
  EXPECT_FALSE(kv_->Get("h", "t:short")->has_value());
  EXPECT_FALSE(kv_->Get("h", long_key)->has_value());
  EXPECT_EQ(Keys("h", "", 0), (std::vector<std::string>{"keep", "t:cleared", "t:later"}));
  EXPECT_FALSE(*kv_->Delete("h", "t:short")) << "an expired record is not there";
  auto swept = kv_->SweepExpired();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u) << "t:short was deleted above; only the long key was left";
  EXPECT_EQ(*kv_->SweepExpired(), 0u);
  now_ += 1000;
  EXPECT_EQ(*kv_->SweepExpired(1), 1u);
  EXPECT_EQ(Keys("h", "", 0), (std::vector<std::string>{"keep", "t:cleared"}));
  // A re-put of an expired key is live again; a huge TTL is capped, not overflowed.
  ASSERT_TRUE(kv_->Put("h", "t:short", "again", UINT64_MAX).ok());
  EXPECT_EQ(*kv_->Get("h", "t:short"), "again");
  now_ += 50LL * 366 * 86400;
  EXPECT_EQ(*kv_->SweepExpired(), 0u);
  EXPECT_EQ(*kv_->Get("h", "t:short"), "again");
}

// Two hosts on one database: what one handler instance puts, the other reads, lists, deletes.
TEST_P(store_kv, SharedByHosts) {
  KvStore mx1(Host(0), [this] { return now_; });
  KvStore mx2(Host(1), [this] { return now_; });
  const std::string long_key = "k:" + std::string(3000, 'x');
  ASSERT_TRUE(mx1.Put("h", "seen:a", "1").ok());
  ASSERT_TRUE(mx1.Put("h", long_key, "long", 60).ok());
  EXPECT_EQ(*mx2.Get("h", "seen:a"), "1");
  EXPECT_EQ(*mx2.Get("h", long_key), "long");
  auto listed = mx2.List("h", "", 0, true);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<KvEntry>{{long_key, "long"}, {"seen:a", "1"}}));
  EXPECT_TRUE(*mx2.Delete("h", "seen:a"));
  EXPECT_FALSE(mx1.Get("h", "seen:a")->has_value());
  now_ += 60;
  EXPECT_EQ(*mx2.SweepExpired(), 1u);
  EXPECT_EQ(*mx1.SweepExpired(), 0u) << "swept once, by whichever host";
}

THREADMILL_BACKEND_SUITE(store_kv);

}  // namespace
}  // namespace threadmill::store
