// Reading CRI container log files as `crictl logs` does: the file itself,
// not an RPC. Each line is "<RFC3339Nano time> <stdout|stderr> <P|F> <content>";
// P(artial) lines continue on the next line of the same stream, F ends one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::ctl {

struct CriLogLine {
  std::string timestamp;
  bool stderr_stream = false;
  bool partial = false;
  std::string content;
};

// InvalidArgument for a line that is not in the CRI format.
Result<CriLogLine> parse_cri_log_line(std::string_view line);

// Index of the first line to print so that the last `tail` whole log lines
// (P... F groups; an unfinished group at the end counts as one) are shown.
// tail < 0 shows everything.
size_t tail_start(const std::vector<CriLogLine>& lines, int64_t tail);

// Writes log lines to out/err by stream, joining partial lines; with
// timestamps, each whole line starts with its time.
class CriLogPrinter {
 public:
  CriLogPrinter(std::ostream& out, std::ostream& err, bool timestamps)
      : out_(out), err_(err), timestamps_(timestamps) {}
  void print(const CriLogLine& line);

 private:
  std::ostream& out_;
  std::ostream& err_;
  bool timestamps_;
  bool at_line_start_[2] = {true, true};
};

struct LogsOptions {
  bool follow = false;
  int64_t tail = -1;  // last N lines; negative: all
  bool timestamps = false;
  std::chrono::milliseconds poll_interval{200};
};

// Prints the CRI log file at path. With follow, keeps reading what is
// appended (and the new file after a rotation) until container_exited()
// says true and the file is drained; an error from it ends following.
Status print_cri_log(const std::string& path, const LogsOptions& options, std::ostream& out,
                     std::ostream& err, const std::function<Result<bool>()>& container_exited);

}  // namespace deckhand::ctl
