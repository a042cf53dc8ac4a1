#include "log_writer.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "deckhand/common/fs.h"
#include "deckhand/runtime/monitor.h"

namespace deckhand::monitor {

std::string format_chunk(int64_t time_ns, const char* stream, std::string_view data) {
  std::string out;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    bool partial = nl == std::string_view::npos;
    size_t len = partial ? data.size() : nl;
    out += runtime::cri_log_line(time_ns, stream, partial, data.substr(0, len));
    data.remove_prefix(partial ? len : len + 1);
  }
  return out;
}

Status CriLogWriter::open() {
  if (path_.empty()) return {};
  DH_TRY(fd, fs::open_fd(path_, O_WRONLY | O_APPEND | O_CREAT, 0640));
  fd_ = std::move(fd);
  return {};
}

Status CriLogWriter::write(int64_t time_ns, const char* stream, std::string_view data) {
  if (!fd_) return {};
  std::string lines = format_chunk(time_ns, stream, data);
  std::string_view left = lines;
  while (!left.empty()) {
    ssize_t n = ::write(fd_.get(), left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("write log {}", path_);
    left.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace deckhand::monitor
