// Calendar arithmetic for "Current time:" (asctime of gmtime without its
// newline), and the reconnect backoff (firmware/backoff.go).
#pragma once
#include <cstdint>
#include <string>

namespace ib {

std::string asctimeUTC(long long epoch);

// backoffMs is the wait after the attempt-th consecutive failure: 2 s,
// doubling, at most 60 s (attempt 0 counts as 1).
inline uint32_t backoffMs(int attempt) {
  uint32_t d = 2000;
  for (int i = 1; i < attempt && d < 60000; i++) d *= 2;
  return d < 60000 ? d : 60000;
}

}  // namespace ib
