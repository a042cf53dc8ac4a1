#include "child_sync.h"

#include <linux/close_range.h>
#include <unistd.h>

#include <cerrno>

namespace deckhand::oci {
namespace {

void write_whole(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

Result<std::string> read_to_eof(int fd, const std::string& what) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read from {}", what);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

Status as_status(const std::string& text, bool silence_is_success, const std::string& what) {
  if (text == kReady || (text.empty() && silence_is_success)) return {};
  if (text.rfind("error ", 0) == 0) return fail(ErrorKind::Internal, "{}", text.substr(6));
  return fail(ErrorKind::Internal, "{} exited during setup without saying why", what);
}

}  // namespace

void send_ready(int fd) { write_whole(fd, kReady); }

void send_error(int fd, const Error& e) { write_whole(fd, "error " + e.message); }

Status receive_result(int fd, const std::string& what) {
  DH_TRY(text, read_to_eof(fd, what));
  return as_status(text, false, what);
}

Status receive_exec_result(int fd, const std::string& what) {
  DH_TRY(text, read_to_eof(fd, what));
  return as_status(text, true, what);
}

void close_extra_fds_on_exec() { ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); }

}  // namespace deckhand::oci
