// fuzz_check.h - what every threadmill fuzz target shares: FUZZ_CHECK (an invariant that
// aborts, so libFuzzer and the corpus replay driver report it as a crash, with NDEBUG too)
// and the entry point's declaration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

inline std::string_view FuzzInput(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
