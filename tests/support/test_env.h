// What every test executable shares: a temporary root removed afterwards,
// unique names (so that tests never collide with each other or with what an
// earlier run left), and the way root-only tests skip.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace deckhand::test {

// doctest's main; with needs_root, exits 77 (meson's "skipped") with a
// message when not run as root.
int run_doctest(int argc, char** argv, bool needs_root);

// A directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "deckhand-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// "<prefix><pid><counter>" cut to max_len characters (interface names allow 15).
std::string unique_name(const std::string& prefix, size_t max_len = 15);

// Paths to built programs and source files, from the environment meson sets.
std::string build_path(const std::string& rel);
// The build dirs of our CNI plugins (deckhand-bridge, -host-local, -loopback), as a CNI_PATH.
std::string cni_plugin_path();
std::string source_path(const std::string& rel);

// Polls pred every 10 ms until it holds (true) or timeout passes (false).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The directories of cgroup_path ("/deckhand-test/x") that still exist, one
// per hierarchy under /sys/fs/cgroup.
std::vector<std::string> cgroup_dirs_left(const std::string& cgroup_path);

// Starts a daemon under test: argv[0] is its path; stdout and stderr are
// appended to the given files (they may be the same). Returns its pid; the
// caller stops and reaps it.
pid_t start_daemon(const std::vector<std::string>& argv, const std::string& stdout_path,
                   const std::string& stderr_path);

// Sends sig to a daemon from start_daemon and reaps it (SIGKILL when it has
// not exited within grace); pid becomes -1. Nothing happens for pid <= 0.
void stop_daemon(pid_t& pid, int sig, std::chrono::milliseconds grace = std::chrono::seconds(10));

// A command line for a program's load_config(argc, argv); args[0] is the program.
class Argv {
 public:
  explicit Argv(std::vector<std::string> args);
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

// Pids of the processes whose command line contains needle.
std::vector<pid_t> processes_with(const std::string& needle);

}  // namespace deckhand::test
