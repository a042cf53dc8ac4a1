#include "child_sync.h"

#include <linux/close_range.h>
#include <unistd.h>

#include <cerrno>

#include "deckhand/common/fs.h"

namespace deckhand::oci {
namespace {

Status as_status(const std::string& text, bool silence_is_success, const std::string& what) {
  if (text == kReady || (text.empty() && silence_is_success)) return {};
  if (text.rfind("error ", 0) == 0) return fail(ErrorKind::Internal, "{}", text.substr(6));
  return fail(ErrorKind::Internal, "{} exited during setup without saying why", what);
}

}  // namespace

// The reader learns of a failed write by EOF without "ready": nothing to report here.
void send_ready(int fd) { (void)fs::write_all(fd, kReady, "setup pipe"); }

void send_error(int fd, const Error& e) { (void)fs::write_all(fd, "error " + e.message, "setup pipe"); }

Status receive_result(int fd, const std::string& what) {
  DH_TRY(text, fs::read_all(fd, what));
  return as_status(text, false, what);
}

Status receive_exec_result(int fd, const std::string& what) {
  DH_TRY(text, fs::read_all(fd, what));
  return as_status(text, true, what);
}

void close_extra_fds_on_exec() { ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); }

}  // namespace deckhand::oci
