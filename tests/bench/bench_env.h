// What the benchmark builds on the host and must take down again: a private
// temporary root, daemons run as children, cgroup trees, host directories
// that a runtime creates as a side effect. Everything here cleans up in its
// destructor, pass or fail, and on Ctrl-C/SIGTERM (noticed by polling, so
// that the destructors run).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "deckhand/common/process.h"
#include "deckhand/cri/client.h"
#include "deckhand/common/result.h"

namespace deckhand::bench {

// Blocks SIGINT and SIGTERM in this thread and every thread started later
// (call it first in main, before gRPC starts threads); stop_requested() then
// tells whether one of them arrived.
void block_stop_signals();
bool stop_requested();
// fail(...) for an interruption, so that callers unwind and clean up.
Status check_not_stopped();

// Sleeps in small steps until pred() holds, the timeout passes or a stop is requested.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// Waits (up to timeout) until the machine is quiet: the CPUs at least 97%
// idle for a second. After many pods go, the kernel tears their network
// namespaces down for seconds in the background, which would slow down
// whatever is measured next. False when it did not go quiet in time.
bool wait_for_quiet_machine(std::chrono::milliseconds timeout);

// mkdtemp under $TMPDIR or /tmp; on destruction unmounts whatever is still
// mounted below it (deepest first) and removes it.
class TempRoot {
 public:
  static Result<TempRoot> create(const std::string& prefix);
  TempRoot(TempRoot&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempRoot& operator=(TempRoot&&) = delete;
  TempRoot(const TempRoot&) = delete;
  ~TempRoot();
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempRoot(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Mounts a private tmpfs at dir (made if missing): the runtimes' volatile
// state goes there, as it goes to /run (a tmpfs) in production, so that
// neither pays disk fsyncs for what a reboot discards anyway.
Status mount_tmpfs(const std::string& dir);

// Mount points at or below root, deepest first.
std::vector<std::string> mounts_under(const std::string& root);
void unmount_all_under(const std::string& root);

// A daemon run as our child, in its own process group (so that a Ctrl-C in
// the terminal reaches only us, and we take it down in order), with stdout
// and stderr going to a log file. stop() sends SIGTERM and waits, then
// SIGKILL; the destructor stops it too.
class Daemon {
 public:
  static Result<Daemon> start(const std::vector<std::string>& argv, const std::string& log_path,
                              const std::vector<std::string>& env = {});
  Daemon(Daemon&&) noexcept = default;
  Daemon& operator=(Daemon&&) noexcept = default;
  ~Daemon() { stop(std::chrono::seconds(10)); }

  pid_t pid() const { return child_.pid(); }
  bool exited();  // reaps it when it has
  void stop(std::chrono::milliseconds grace);

 private:
  explicit Daemon(ChildProcess c) : child_(std::move(c)) {}
  ChildProcess child_;
};

// Waits for a daemon's unix socket to appear; fails early when the daemon
// exits (the message points at its log).
Status wait_for_socket(Daemon& d, const std::string& socket, const std::string& log_path,
                       std::chrono::milliseconds timeout);

// Runs a command to completion; a non-zero exit is an error carrying its stderr.
Result<std::string> run_checked(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Deletes a network interface; a missing one is fine.
void delete_link(const std::string& name);

// A cgroup path (e.g. /deckhand-bench-123) in every hierarchy mounted under
// /sys/fs/cgroup: on destruction, processes still in it are killed and the
// tree is removed depth-first.
class CgroupTree {
 public:
  explicit CgroupTree(std::string path) : path_(std::move(path)) {}
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;
  ~CgroupTree();
  const std::string& path() const { return path_; }
  // SIGKILLs every process in the tree (any hierarchy), waiting briefly for them to go.
  void kill_all() const;

 private:
  std::string path_;
};

// Host directories a runtime may create as a side effect (containerd's
// /run/containerd/s for shim sockets, libcni's /var/lib/cni/results): those
// that did not exist when the guard was made are removed again when empty.
class HostDirGuard {
 public:
  explicit HostDirGuard(std::vector<std::string> dirs);  // parents before children
  HostDirGuard(const HostDirGuard&) = delete;
  HostDirGuard& operator=(const HostDirGuard&) = delete;
  ~HostDirGuard();

 private:
  std::vector<std::string> absent_;
};

// Copies a file (a daemon log) into dir as name; failures only warn.
void keep_copy(const std::string& file, const std::string& dir, const std::string& name);

// Stops and removes every pod a runtime reports (cleanup; failures are printed).
void remove_all_pods_of(cri::CriClient& client, const char* runtime);

}  // namespace deckhand::bench
