#include "common/result.h"

namespace threadmill {

const char* ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid-input";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kStore:
      return "store";
    case ErrorCode::kTemporary:
      return "temporary";
    case ErrorCode::kPermission:
      return "permission";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kRefused:
      return "refused";
  }
  return "unknown";
}

}  // namespace threadmill
