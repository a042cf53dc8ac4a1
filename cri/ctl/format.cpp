#include "deckhand/ctl/format.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace deckhand::ctl {

std::string short_id(std::string_view id) {
  if (id.starts_with("sha256:")) id.remove_prefix(7);
  return std::string(id.substr(0, 13));
}

std::string human_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (bytes >= 1000 && i + 1 < std::size(kUnits)) {
    bytes /= 1000;
    ++i;
  }
  return fmt::format("{:.3g}{}", bytes, kUnits[i]);
}

std::string human_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  auto secs = duration_cast<seconds>(d).count();
  if (secs < 1) return "Less than a second";
  if (secs == 1) return "1 second";
  if (secs < 60) return fmt::format("{} seconds", secs);
  auto mins = duration_cast<minutes>(d).count();
  if (mins == 1) return "About a minute";
  if (mins < 60) return fmt::format("{} minutes", mins);
  auto hours = static_cast<int64_t>(std::llround(duration<double, std::ratio<3600>>(d).count()));
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", hours / 24 / 365);
}

std::string created_ago(int64_t created_at_ns, int64_t now) {
  return human_duration(std::chrono::nanoseconds(std::max<int64_t>(0, now - created_at_ns))) + " ago";
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_time(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char date[64], zone[32];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  strftime(zone, sizeof zone, "%z %Z", &tm);
  return fmt::format("{}.{:09} {}", date, ns % 1'000'000'000, zone);
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return fail(ErrorKind::InvalidArgument, "empty duration");
  double total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || value < 0)
      return fail(ErrorKind::InvalidArgument, "duration {:?}: expected e.g. 30s, 2m, 1h30m", text);
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
    size_t unit_len = 0;
    while (unit_len < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_len]))) ++unit_len;
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    if (unit.empty() && rest.empty() && total_ms == 0) unit = "s";  // a bare number
    double scale = unit == "ms" ? 1 : unit == "s" ? 1e3 : unit == "m" ? 60e3 : unit == "h" ? 3600e3 : -1;
    if (scale < 0) return fail(ErrorKind::InvalidArgument, "duration {:?}: unknown unit {:?}", text, unit);
    total_ms += value * scale;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

void Table::print(std::ostream& out) const {
  constexpr size_t kMinWidth = 20, kPadding = 3;
  size_t columns = 0;
  for (const auto& r : rows_) columns = std::max(columns, r.size());
  std::vector<size_t> width(columns, kMinWidth);
  for (const auto& r : rows_)
    for (size_t c = 0; c + 1 < r.size(); ++c) width[c] = std::max(width[c], r[c].size() + kPadding);
  for (const auto& r : rows_) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line.append(width[c] - r[c].size(), ' ');
    }
    out << line << '\n';
  }
}

Result<std::pair<std::string, std::string>> parse_label(std::string_view text, std::string_view flag) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return fail(ErrorKind::InvalidArgument, "{} {:?}: expected key=value", flag, text);
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<double> cpu_percent(uint64_t usage1, int64_t ts1, uint64_t usage2, int64_t ts2) {
  if (ts2 <= ts1)
    return fail(ErrorKind::FailedPrecondition,
                "CPU usage timestamp did not move between the two samples ({} then {}): cannot compute CPU %",
                ts1, ts2);
  // A counter that went backwards (container restarted) gives no usable delta.
  if (usage2 < usage1) return 0.0;
  return static_cast<double>(usage2 - usage1) / static_cast<double>(ts2 - ts1) * 100.0;
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<uint8_t>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace deckhand::ctl
