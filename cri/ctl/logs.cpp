#include "deckhand/ctl/logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::ctl {

Result<CriLogLine> parse_cri_log_line(std::string_view line) {
  auto field = [&line]() {
    auto sp = line.find(' ');
    std::string_view f = line.substr(0, sp);
    line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
    return f;
  };
  CriLogLine l;
  l.timestamp = std::string(field());
  std::string_view stream = field();
  std::string_view tags = field();
  if (l.timestamp.empty() || (stream != "stdout" && stream != "stderr"))
    return fail(ErrorKind::InvalidArgument, "not a CRI log line: {:?}", line);
  l.stderr_stream = stream == "stderr";
  // Tags are ':'-separated; the first says partial (P) or full (F).
  std::string_view first_tag = tags.substr(0, tags.find(':'));
  if (first_tag != "P" && first_tag != "F")
    return fail(ErrorKind::InvalidArgument, "CRI log line tag {:?}", tags);
  l.partial = first_tag == "P";
  l.content = std::string(line);
  return l;
}

size_t tail_start(const std::vector<CriLogLine>& lines, int64_t tail) {
  if (tail < 0 || lines.empty()) return 0;
  if (tail == 0) return lines.size();
  // Walking back, each full line closes the group before it; an unfinished
  // group at the very end already counts as one line.
  int64_t seen = lines.back().partial ? 1 : 0;
  for (size_t i = lines.size(); i-- > 0;) {
    if (lines[i].partial) continue;
    if (seen == tail) return i + 1;
    ++seen;
  }
  return 0;
}

void CriLogPrinter::print(const CriLogLine& line) {
  std::ostream& os = line.stderr_stream ? err_ : out_;
  bool& at_start = at_line_start_[line.stderr_stream ? 1 : 0];
  if (timestamps_ && at_start) os << line.timestamp << ' ';
  os << line.content;
  if (!line.partial) os << '\n';
  at_start = !line.partial;
}

namespace {

// Follows one log file through appends and rotations.
class LogFollower {
 public:
  LogFollower(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  // Appends what can be read now to buf_; returns the byte count.
  Result<size_t> read_available() {
    size_t total = 0;
    char chunk[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_fail("read log file {}", path_);
      if (n == 0) return total;
      buf_.append(chunk, static_cast<size_t>(n));
      total += static_cast<size_t>(n);
    }
  }

  // Takes the complete lines out of the buffer, leaving an unfinished one.
  std::vector<CriLogLine> take_lines(bool including_unfinished) {
    std::vector<CriLogLine> lines;
    size_t start = 0;
    for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1)
      add_line(std::string_view(buf_).substr(start, nl - start), lines);
    buf_.erase(0, start);
    if (including_unfinished && !buf_.empty()) {
      add_line(buf_, lines);
      buf_.clear();
    }
    return lines;
  }

  // After a rotation the path names a new file: switch to it (the old one
  // has been read to its end by then).
  Result<bool> reopen_if_rotated() {
    struct stat now {
    }, open{};
    if (::stat(path_.c_str(), &now) != 0 || ::fstat(fd_.get(), &open) != 0) return false;
    if (now.st_ino == open.st_ino && now.st_dev == open.st_dev) return false;
    DH_TRY(fd, fs::open_fd(path_, O_RDONLY | O_CLOEXEC));
    fd_ = std::move(fd);
    return true;
  }

 private:
  void add_line(std::string_view text, std::vector<CriLogLine>& lines) {
    if (text.empty()) return;
    auto l = parse_cri_log_line(text);
    if (l) {
      lines.push_back(std::move(*l));
    } else {
      log::get("ctl")->warn("{}: skipping line: {}", path_, l.error().message);
    }
  }

  std::string path_;
  UniqueFd fd_;
  std::string buf_;
};

void print_all(CriLogPrinter& printer, const std::vector<CriLogLine>& lines, size_t from = 0) {
  for (size_t i = from; i < lines.size(); ++i) printer.print(lines[i]);
}

Status follow(LogFollower& f, CriLogPrinter& printer, const LogsOptions& options, std::ostream& out,
              std::ostream& err, const std::function<Result<bool>()>& container_exited) {
  for (;;) {
    DH_TRY(n, f.read_available());
    if (n > 0) {
      print_all(printer, f.take_lines(false));
      out.flush();
      err.flush();
      continue;
    }
    DH_TRY(rotated, f.reopen_if_rotated());
    if (rotated) continue;
    DH_TRY(exited, container_exited());
    if (exited) {
      // The container wrote its last lines before it exited: drain them.
      DH_CHECK(f.read_available());
      print_all(printer, f.take_lines(true));
      return {};
    }
    std::this_thread::sleep_for(options.poll_interval);
  }
}

}  // namespace

Status print_cri_log(const std::string& path, const LogsOptions& options, std::ostream& out,
                     std::ostream& err, const std::function<Result<bool>()>& container_exited) {
  DH_TRY(fd, fs::open_fd(path, O_RDONLY | O_CLOEXEC));
  LogFollower f(path, std::move(fd));
  CriLogPrinter printer(out, err, options.timestamps);
  DH_CHECK(f.read_available());
  auto lines = f.take_lines(!options.follow);
  print_all(printer, lines, tail_start(lines, options.tail));
  out.flush();
  err.flush();
  if (!options.follow) return {};
  return follow(f, printer, options, out, err, container_exited);
}

}  // namespace deckhand::ctl
