// The CRI log file of one container: lines "<time> <stream> <P|F> <text>".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::monitor {

// Largest piece read from a stream at once; a longer line becomes several P
// entries, so a container that never writes a newline cannot grow our memory.
inline constexpr size_t kReadChunk = 16 * 1024;

// The log lines for one read of a stream, all stamped time_ns: each
// newline-terminated line is full (F); a trailing piece without newline is
// partial (P) and its continuation comes in the next read.
std::string format_chunk(int64_t time_ns, const char* stream, std::string_view data);

class CriLogWriter {
 public:
  // An empty path discards everything.
  explicit CriLogWriter(std::string path) : path_(std::move(path)) {}

  Status open();
  // After rotation (the old file was renamed): starts writing at path again.
  Status reopen() { return open(); }
  Status write(int64_t time_ns, const char* stream, std::string_view data);

 private:
  std::string path_;
  UniqueFd fd_;
};

// Realtime clock in ns since the epoch.
int64_t now_ns();

}  // namespace deckhand::monitor
