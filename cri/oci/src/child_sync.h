// How a forked child of deckhand-oci (the container's init, an exec'd
// process) tells its parent that setup worked or why it did not: one message
// on a close-on-exec pipe, then EOF.
#pragma once

#include <string>

#include "deckhand/common/result.h"

namespace deckhand::oci {

inline constexpr const char* kReady = "ok";

// In the child: writes "ok" or "error <message>" whole, ignoring failures
// (the parent sees EOF and says the child died).
void send_ready(int fd);
void send_error(int fd, const Error& e);

// In the parent: reads to EOF. Ready, the child's error, or an error saying
// it exited without a word (what is that of the caller's wording).
Status receive_result(int fd, const std::string& what);
// For a child that execs when all went well: EOF alone (the pipe is
// close-on-exec) means it did.
Status receive_exec_result(int fd, const std::string& what);

// Makes all fds from 3 up close-on-exec, so the process gets only its stdio.
void close_extra_fds_on_exec();

}  // namespace deckhand::oci
