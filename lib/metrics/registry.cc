#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace threadmill::metrics {
namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double value) {
  if (std::isinf(value)) return "+Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

}  // namespace

std::string FormatSample(const std::string& name, const Labels& labels, const std::string& value) {
  std::string line = name;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) line += ',';
      line += labels[i].first + "=\"" + Escape(labels[i].second) + '"';
    }
    line += '}';
  }
  return line + ' ' + value + '\n';
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (value > 0) {
    sum_micros_.fetch_add(static_cast<uint64_t>(value * 1e6), std::memory_order_relaxed);
  }
}

std::vector<uint64_t> Histogram::Buckets() const {
  std::vector<uint64_t> cumulative(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

double Histogram::sum() const { return sum_micros_.load(std::memory_order_relaxed) / 1e6; }

std::vector<double> Registry::LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Family& Registry::GetFamily(const std::string& name, const std::string& help,
                                      bool histogram) {
  Family& family = families_[name];
  if (family.help.empty()) {
    family.help = help;
    family.histogram = histogram;
  }
  return family;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  {
    std::shared_lock lock(mutex_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto series = family->second.counters.find(labels);
      if (series != family->second.counters.end()) return *series->second;
    }
  }
  std::unique_lock lock(mutex_);
  auto& slot = GetFamily(name, help, false).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels, const std::vector<double>& bounds) {
  {
    std::shared_lock lock(mutex_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto series = family->second.histograms.find(labels);
      if (series != family->second.histograms.end()) return *series->second;
    }
  }
  std::unique_lock lock(mutex_);
  auto& slot = GetFamily(name, help, true).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Registry::Render() const {
  std::shared_lock lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + ' ' + family.help + '\n';
    out += "# TYPE " + name + (family.histogram ? " histogram\n" : " counter\n");
    for (const auto& [labels, counter] : family.counters) {
      out += FormatSample(name, labels, std::to_string(counter->value()));
    }
    for (const auto& [labels, histogram] : family.histograms) {
      auto buckets = histogram->Buckets();
      for (size_t i = 0; i < buckets.size(); ++i) {
        Labels with_le = labels;
        double bound = i < histogram->bounds().size() ? histogram->bounds()[i] : INFINITY;
        with_le.emplace_back("le", Number(bound));
        out += FormatSample(name + "_bucket", with_le, std::to_string(buckets[i]));
      }
      out += FormatSample(name + "_sum", labels, Number(histogram->sum()));
      out += FormatSample(name + "_count", labels, std::to_string(histogram->count()));
    }
  }
  return out;
}

}  // namespace threadmill::metrics
