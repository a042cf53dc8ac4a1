// How deckhandctl prints things: tables, ids, sizes, ages and durations in
// the shapes crictl users know.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::ctl {

// Ids in tables: a "sha256:" prefix dropped, then the first 13 characters.
std::string short_id(std::string_view id);

// Decimal units with three significant digits, as crictl prints sizes:
// 512 -> "512B", 2100000 -> "2.1MB", 1234567890 -> "1.23GB".
std::string human_size(double bytes);

// "Less than a second", "1 second", "N seconds", "About a minute",
// "N minutes", "About an hour", "N hours", "N days", "N weeks", "N months", "N years".
std::string human_duration(std::chrono::nanoseconds d);

// created_at (ns since the epoch) as "N minutes ago" relative to now_ns.
std::string created_ago(int64_t created_at_ns, int64_t now_ns);
int64_t now_ns();

// Local time of a ns timestamp: "2024-05-01 12:03:04.123456789 +0200 CEST".
std::string format_time(int64_t ns);

// "2m", "30s", "1h30m", "250ms", "1.5s"; a bare number is seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Columns separated as crictl's tabwriter does: each column but the last is
// at least 20 wide and 3 wider than its widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "key=value" -> {key, value}; InvalidArgument naming the flag otherwise.
Result<std::pair<std::string, std::string>> parse_label(std::string_view text, std::string_view flag);

// CPU % from two cumulative usage samples (ns of CPU time at ns timestamps):
// the usage delta over the time delta. FailedPrecondition when the timestamp
// did not move, which would divide by zero (a runtime serving cached stats).
Result<double> cpu_percent(uint64_t usage1, int64_t ts1, uint64_t usage2, int64_t ts2);

std::string base64_encode(std::string_view data);

}  // namespace deckhand::ctl
