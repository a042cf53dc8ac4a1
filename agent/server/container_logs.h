// Reading CRI container log files (the format every CRI runtime writes:
// "<RFC3339Nano time> <stdout|stderr> <F|P> <text>", P lines continued by the
// next) the way `kubectl logs` asks for them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::agent {

struct LogOptions {
  bool follow = false;
  bool timestamps = false;                // prefix each line with its RFC3339Nano time
  std::optional<int64_t> tail_lines;      // only the last N lines
  std::optional<int64_t> since_seconds;   // only lines newer than now - N s
  std::optional<std::string> since_time;  // only lines at or after this RFC3339 time
  std::optional<int64_t> limit_bytes;     // stop after this many bytes of output
};

// Nanoseconds since the epoch of an RFC 3339 time ("2026-11-22T03:04:05Z",
// "2026-11-22T03:04:05.123456789+02:00"); InvalidArgument otherwise. The
// server checks sinceTime with it before it starts a response.
Result<int64_t> parse_rfc3339_nanos(std::string_view text);

// Writes the log's lines, as the container printed them, to sink (each call
// one or more whole lines; sink returns false to stop). With follow, keeps
// reading as the file grows (and across the runtime's rotation of it) until
// sink returns false or still_following() turns false (checked at least every
// 200 ms), e.g. because the container exited and its log is drained.
Status stream_container_log(
    const std::string& path, const LogOptions& options, const std::function<bool(std::string_view)>& sink,
    const std::function<bool()>& still_following = [] { return true; });

}  // namespace deckhand::agent
