// fuzz_feature.h - coverage libFuzzer cannot see for itself. The C libraries the auth
// targets feed (libopendkim, libopendmarc, libspf2) are Debian's, not instrumented, so
// libFuzzer would keep only the inputs that change our own few lines and drop the rest,
// including the seeds. A target reports what the library answered (result, error code,
// reason text) with FuzzFeature(); each distinct answer sets one of libFuzzer's "extra
// counters" (the __libfuzzer_extra_counters section, which libFuzzer clears before every
// input and reads after it), so an input that makes the library answer something new is
// kept. Outside the fuzz build (the replay driver) the counters are plain bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

inline constexpr size_t kFuzzFeatureCounters = 4096;

#if defined(__clang__) && defined(__linux__)
__attribute__((used, section("__libfuzzer_extra_counters")))
#endif
inline uint8_t g_fuzz_feature_counters[kFuzzFeatureCounters];

// Marks the feature `what` (FNV-1a of its bytes) as seen for this input.
inline void FuzzFeature(std::string_view what, uint64_t extra = 0) {
  uint64_t h = 1469598103934665603ull ^ extra;
  for (unsigned char c : what) h = (h ^ c) * 1099511628211ull;
  uint8_t& c = g_fuzz_feature_counters[h % kFuzzFeatureCounters];
  if (c < 255) ++c;
}
