#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace threadmill::metrics {
namespace {

TEST(RegistryTest, CountersRenderInTextFormat) {
  Registry registry;
  registry.GetCounter("tm_messages_total", "Messages", {{"direction", "inbound"}}).Add(3);
  registry.GetCounter("tm_messages_total", "Messages", {{"direction", "outbound"}}).Add();
  std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP tm_messages_total Messages\n# TYPE tm_messages_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tm_messages_total{direction=\"inbound\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tm_messages_total{direction=\"outbound\"} 1\n"), std::string::npos);
}

TEST(RegistryTest, HistogramBucketsAreCumulative) {
  Registry registry;
  auto& h = registry.GetHistogram("tm_seconds", "Latency", {}, {0.01, 0.1, 1});
  for (double v : {0.005, 0.05, 0.05, 0.5, 5.0}) h.Observe(v);
  std::string text = registry.Render();
  EXPECT_NE(text.find("tm_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tm_seconds_bucket{le=\"0.1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tm_seconds_bucket{le=\"1\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("tm_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("tm_seconds_count 5\n"), std::string::npos);
  EXPECT_NEAR(h.sum(), 5.605, 1e-6);
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.GetCounter("tm_x_total", "X", {{"reason", "a\"b\\c\nd"}}).Add();
  EXPECT_NE(registry.Render().find("tm_x_total{reason=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

TEST(RegistryTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < 10000; ++i) {
        registry.GetCounter("tm_c_total", "C", {{"k", std::to_string(i % 3)}}).Add();
        registry.GetHistogram("tm_h", "H").Observe(0.001 * t);
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t total = 0;
  for (int k = 0; k < 3; ++k) {
    total += registry.GetCounter("tm_c_total", "C", {{"k", std::to_string(k)}}).value();
  }
  EXPECT_EQ(total, 80000u);
  EXPECT_EQ(registry.GetHistogram("tm_h", "H").count(), 80000u);
}

}  // namespace
}  // namespace threadmill::metrics
