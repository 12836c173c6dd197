// registry.h - in-process counters and latency histograms, exposed in the Prometheus text
// format (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// DESCRIPTION
//   A Registry owns metric families; a family holds one series per label set. Series are
//   created on first use and never removed, so hot-path updates are a hash lookup under a
//   shared lock plus an atomic add (the label sets are small and bounded: directions,
//   decisions, match methods, verdicts). Updates are thread-safe; Render() may run while
//   other threads update.
//
// LIMITS
//   Label values are escaped for the text format, not validated; callers pass bounded sets.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace threadmill::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Cumulative counts per bound (+Inf last), the sum and the count.
  std::vector<uint64_t> Buckets() const;
  double sum() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // sum in millionths, to stay atomic without locks
};

class Registry {
 public:
  // Seconds: 1 ms .. 10 s, for per-message latencies.
  static std::vector<double> LatencyBuckets();

  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const Labels& labels = {},
                          const std::vector<double>& bounds = LatencyBuckets());

  // The whole registry in the Prometheus text format (version 0.0.4).
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    bool histogram = false;
    std::vector<double> bounds;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& GetFamily(const std::string& name, const std::string& help, bool histogram);

  mutable std::shared_mutex mutex_;
  std::map<std::string, Family> families_;
};

// Formats one sample line: name{k="v",...} value
std::string FormatSample(const std::string& name, const Labels& labels, const std::string& value);

}  // namespace threadmill::metrics
