// A child process for cgroup tests: it waits until it has been placed in a
// cgroup, then burns some CPU and touches some memory, then sleeps until killed.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <doctest/doctest.h>

namespace deckhand::test {

class CgroupTestChild {
 public:
  CgroupTestChild() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (::read(fds[0], &c, 1) != 1) ::_exit(1);
      volatile unsigned long x = 0;
      for (unsigned long i = 0; i < 50'000'000; ++i) x = x + i;
      static char pages[8 << 20];
      std::memset(pages, 1, sizeof pages);
      for (;;) ::pause();
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~CgroupTestChild() { kill(); }
  CgroupTestChild(const CgroupTestChild&) = delete;
  CgroupTestChild& operator=(const CgroupTestChild&) = delete;

  pid_t pid() const { return pid_; }
  // Lets it run, and gives it time to do its work.
  void start() {
    REQUIRE(::write(go_, "g", 1) == 1);
    ::usleep(300'000);
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    if (go_ >= 0) ::close(go_);
    go_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
};

}  // namespace deckhand::test
