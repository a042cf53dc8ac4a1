#include "container_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"

namespace deckhand::agent {

namespace {

constexpr size_t kBlockSize = 64 * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

// One line of a CRI log file. A line that does not have the format is kept
// whole as text, so that it is shown rather than lost.
struct CriLine {
  std::string_view time;
  bool is_stderr = false;
  bool partial = false;
  std::string_view text;
  bool well_formed = false;
};

std::string_view next_field(std::string_view& rest) {
  auto space = rest.find(' ');
  std::string_view field = rest.substr(0, space);
  rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
  return field;
}

CriLine parse_cri_line(std::string_view raw) {
  CriLine line;
  line.text = raw;
  std::string_view rest = raw;
  std::string_view time = next_field(rest);
  std::string_view stream = next_field(rest);
  std::string_view tags = next_field(rest);
  // Tags are ':'-separated; the first says partial (P) or full (F).
  std::string_view first_tag = tags.substr(0, tags.find(':'));
  if (time.empty() || (stream != "stdout" && stream != "stderr") || (first_tag != "P" && first_tag != "F"))
    return line;
  line.time = time;
  line.is_stderr = stream == "stderr";
  line.partial = first_tag == "P";
  line.text = rest;
  line.well_formed = true;
  return line;
}

bool parse_digits(std::string_view& s, size_t n, int& out) {
  if (s.size() < n) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  s.remove_prefix(n);
  return true;
}

bool expect_char(std::string_view& s, char c) {
  if (s.empty() || (s[0] != c && !(c == 'T' && s[0] == 't'))) return false;
  s.remove_prefix(1);
  return true;
}

// Reads raw lines of a file from its end towards its start, a block at a time.
class BackwardLineReader {
 public:
  BackwardLineReader(int fd, off_t size) : fd_(fd), block_start_(size) {}

  struct Line {
    off_t start = 0;
    std::string text;
  };

  // The line before the ones returned so far (without its '\n'); nullopt at
  // the start of the file.
  Result<std::optional<Line>> previous() {
    if (!buf_.empty() && buf_.back() == '\n') buf_.pop_back();
    for (;;) {
      auto newline = buf_.rfind('\n');
      if (newline != std::string::npos) {
        Line line{block_start_ + static_cast<off_t>(newline) + 1, buf_.substr(newline + 1)};
        buf_.resize(newline + 1);
        return line;
      }
      if (block_start_ == 0) {
        if (buf_.empty() && done_) return std::optional<Line>{};
        done_ = true;
        Line line{0, std::move(buf_)};
        buf_.clear();
        return line;
      }
      DH_CHECK(read_block_before());
    }
  }

 private:
  Status read_block_before() {
    size_t n = std::min<size_t>(kBlockSize, static_cast<size_t>(block_start_));
    std::string block(n, '\0');
    off_t at = block_start_ - static_cast<off_t>(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, block.data() + got, n - got, at + static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return sys_fail("read log file backwards");
      if (r == 0) return fail(ErrorKind::Internal, "log file shrank while reading it backwards");
      got += static_cast<size_t>(r);
    }
    buf_.insert(0, block);
    block_start_ = at;
    return {};
  }

  int fd_;
  off_t block_start_;  // file offset of buf_[0]
  std::string buf_;    // bytes not yet returned as lines
  bool done_ = false;
};

// Where the last `lines` joined lines start: P lines count with the line that
// ends them, and an unfinished one at the end counts as a line.
Result<off_t> tail_offset(int fd, off_t size, int64_t lines) {
  if (lines <= 0) return size;
  BackwardLineReader reader(fd, size);
  off_t later_start = size;
  int64_t seen = 0;
  bool at_end = true;
  for (;;) {
    DH_TRY(line, reader.previous());
    if (!line) return 0;
    if (!line->text.empty()) {
      bool full = !parse_cri_line(line->text).partial;
      if (at_end && !full) seen = 1;
      at_end = false;
      if (full) {
        if (seen == lines) return later_start;
        ++seen;
      }
    }
    later_start = line->start;
  }
}

// Turns raw CRI lines into the text kubectl shows: joins partial lines,
// filters by time, adds timestamps and stops at the byte limit.
class LogFormatter {
 public:
  LogFormatter(const LogOptions& options, std::optional<int64_t> since_nanos)
      : options_(options), since_nanos_(since_nanos) {}

  void add(std::string_view raw) {
    if (raw.empty() || limit_reached_) return;
    CriLine line = parse_cri_line(raw);
    if (!line.well_formed) return emit({}, raw);
    Pending& pending = pending_[line.is_stderr ? 1 : 0];
    if (pending.text.empty() && pending.time.empty()) pending.time = std::string(line.time);
    pending.text.append(line.text);
    if (line.partial) return;
    emit(pending.time, pending.text);
    pending = {};
  }

  // Unfinished partial lines at the end of a log that will not grow.
  void flush_partials() {
    for (auto& pending : pending_) {
      if (!pending.time.empty()) emit(pending.time, pending.text);
      pending = {};
    }
  }

  std::string take_output() { return std::exchange(output_, {}); }
  bool limit_reached() const { return limit_reached_; }

 private:
  struct Pending {
    std::string time;
    std::string text;
  };

  void emit(std::string_view time, std::string_view text) {
    if (limit_reached_) return;
    if (since_nanos_ && !time.empty()) {
      auto at = parse_rfc3339_nanos(time);
      if (at && *at < *since_nanos_) return;
    }
    std::string line;
    line.reserve(time.size() + text.size() + 2);
    if (options_.timestamps && !time.empty()) line.append(time).append(" ");
    line.append(text).append("\n");
    if (options_.limit_bytes) {
      auto left = static_cast<size_t>(std::max<int64_t>(0, *options_.limit_bytes - written_));
      if (line.size() >= left) {
        line.resize(left);
        limit_reached_ = true;
      }
    }
    written_ += static_cast<int64_t>(line.size());
    output_ += line;
  }

  const LogOptions& options_;
  std::optional<int64_t> since_nanos_;
  std::array<Pending, 2> pending_;  // stdout, stderr
  std::string output_;
  int64_t written_ = 0;
  bool limit_reached_ = false;
};

// Reads a log file forward from an offset, through rotations when following.
class ForwardLogReader {
 public:
  ForwardLogReader(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  Status seek(off_t offset) {
    if (::lseek(fd_.get(), offset, SEEK_SET) < 0) return sys_fail("seek in log file {}", path_);
    return {};
  }

  // Reads what there is now (at most a block) and hands its whole lines to
  // the formatter; with at_end, the unfinished rest too. Returns the bytes read.
  Result<size_t> read_into(LogFormatter& formatter, bool at_end) {
    char chunk[kBlockSize];
    ssize_t n;
    do {
      n = ::read(fd_.get(), chunk, sizeof chunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return sys_fail("read log file {}", path_);
    buf_.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1)
      formatter.add(std::string_view(buf_).substr(start, nl - start));
    buf_.erase(0, start);
    if (at_end && n == 0 && !buf_.empty()) {
      formatter.add(buf_);
      buf_.clear();
    }
    return static_cast<size_t>(n);
  }

  // After the runtime rotated the log, the path names a new file: switch to
  // it once the old one is read to its end. A file truncated in place is
  // read again from its start.
  Result<bool> reopen_if_rotated() {
    struct stat at_path {};
    struct stat open_file {};
    if (::fstat(fd_.get(), &open_file) != 0) return sys_fail("stat open log file {}", path_);
    off_t position = ::lseek(fd_.get(), 0, SEEK_CUR);
    if (position > open_file.st_size) {
      DH_CHECK(seek(0));
      return true;
    }
    if (::stat(path_.c_str(), &at_path) != 0) return false;  // between rename and the new file
    if (at_path.st_ino == open_file.st_ino && at_path.st_dev == open_file.st_dev) return false;
    auto reopened = fs::open_fd(path_, O_RDONLY | O_CLOEXEC);
    if (!reopened) return false;
    fd_ = std::move(*reopened);
    return true;
  }

 private:
  std::string path_;
  UniqueFd fd_;
  std::string buf_;  // an unfinished line
};

Result<std::optional<int64_t>> since_nanos(const LogOptions& options) {
  if (options.since_time) {
    DH_TRY(at, parse_rfc3339_nanos(*options.since_time));
    return std::optional<int64_t>(at);
  }
  if (options.since_seconds) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return std::optional<int64_t>(now - *options.since_seconds * 1'000'000'000);
  }
  return std::optional<int64_t>();
}

// Hands the formatter's output to the sink; false when the sink or the byte limit says stop.
bool deliver(LogFormatter& formatter, const std::function<bool(std::string_view)>& sink) {
  std::string out = formatter.take_output();
  if (!out.empty() && !sink(out)) return false;
  return !formatter.limit_reached();
}

}  // namespace

Result<int64_t> parse_rfc3339_nanos(std::string_view text) {
  std::string_view s = text;
  int year, month, day, hour, minute, second;
  bool ok = parse_digits(s, 4, year) && expect_char(s, '-') && parse_digits(s, 2, month) &&
            expect_char(s, '-') && parse_digits(s, 2, day) && expect_char(s, 'T') &&
            parse_digits(s, 2, hour) && expect_char(s, ':') && parse_digits(s, 2, minute) &&
            expect_char(s, ':') && parse_digits(s, 2, second);
  int64_t nanos = 0;
  if (ok && !s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    int digits = 0;
    for (; !s.empty() && s[0] >= '0' && s[0] <= '9'; s.remove_prefix(1), ++digits)
      if (digits < 9) nanos = nanos * 10 + (s[0] - '0');
    ok = digits > 0;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int offset_seconds = 0;
  if (ok && !s.empty() && (s[0] == 'Z' || s[0] == 'z')) {
    s.remove_prefix(1);
  } else if (ok && !s.empty() && (s[0] == '+' || s[0] == '-')) {
    int sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh, om;
    ok = parse_digits(s, 2, oh) && expect_char(s, ':') && parse_digits(s, 2, om);
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    ok = false;
  }
  using namespace std::chrono;
  year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                      std::chrono::day(static_cast<unsigned>(day))};
  if (!ok || !s.empty() || !date.ok() || hour > 23 || minute > 59 || second > 60)
    return fail(ErrorKind::InvalidArgument, "{:?} is not an RFC 3339 time", text);
  int64_t seconds = sys_days(date).time_since_epoch().count() * 86400LL + hour * 3600 + minute * 60 + second -
                    offset_seconds;
  return seconds * 1'000'000'000 + nanos;
}

Status stream_container_log(const std::string& path, const LogOptions& options,
                            const std::function<bool(std::string_view)>& sink,
                            const std::function<bool()>& still_following) {
  DH_TRY(since, since_nanos(options));
  DH_TRY(fd, fs::open_fd(path, O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_fail("stat log file {}", path);
  off_t start = 0;
  if (options.tail_lines) {
    auto offset = tail_offset(fd.get(), st.st_size, *options.tail_lines);
    if (!offset) return tl::unexpected(offset.error().context("log file {}", path));
    start = *offset;
  }
  ForwardLogReader reader(path, std::move(fd));
  DH_CHECK(reader.seek(start));
  LogFormatter formatter(options, since);
  // What is in the file now.
  for (;;) {
    DH_TRY(n, reader.read_into(formatter, !options.follow));
    if (!deliver(formatter, sink)) return {};
    if (n == 0) break;
  }
  if (!options.follow) {
    formatter.flush_partials();
    deliver(formatter, sink);
    return {};
  }
  // What the container writes from now on, until it exits.
  for (;;) {
    DH_TRY(n, reader.read_into(formatter, false));
    if (!deliver(formatter, sink)) return {};
    if (n > 0) continue;
    DH_TRY(rotated, reader.reopen_if_rotated());
    if (rotated) continue;
    if (!still_following()) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  // It wrote its last lines before it exited: drain them.
  for (;;) {
    DH_TRY(n, reader.read_into(formatter, true));
    if (!deliver(formatter, sink)) return {};
    if (n > 0) continue;
    DH_TRY(rotated, reader.reopen_if_rotated());
    if (!rotated) break;
  }
  formatter.flush_partials();
  deliver(formatter, sink);
  return {};
}

}  // namespace deckhand::agent
