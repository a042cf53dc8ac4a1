#include "test_env.h"

#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"

namespace deckhand::test {

int run_doctest(int argc, char** argv, bool needs_root) {
  if (needs_root && geteuid() != 0) {
    std::printf("SKIP: this test needs root (network namespaces, mounts)\n");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/{}-XXXXXX", base && *base ? base : "/tmp", prefix);
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  // A test that failed half-way may leave mounts: lazily detach them first.
  (void)::umount2(path_.c_str(), MNT_DETACH);
  auto st = fs::remove_all(path_);
  if (!st) std::fprintf(stderr, "TempDir: %s\n", st.error().message.c_str());
}

std::string unique_name(const std::string& prefix, size_t max_len) {
  static std::atomic<unsigned> counter{0};
  std::string name = fmt::format("{}{}{}", prefix, ::getpid() % 100000, counter++);
  if (name.size() > max_len) name = name.substr(name.size() - max_len);
  return name;
}

static std::string env_or(const char* key, const std::string& fallback) {
  const char* v = getenv(key);
  return v && *v ? v : fallback;
}

std::string build_path(const std::string& rel) { return env_or("DECKHAND_BUILD_ROOT", ".") + "/" + rel; }

std::string cni_plugin_path() {
  return build_path("cni-plugins/bridge") + ":" + build_path("cni-plugins/host-local") + ":" +
         build_path("cni-plugins/loopback");
}
std::string source_path(const std::string& rel) { return env_or("DECKHAND_SOURCE_ROOT", ".") + "/" + rel; }

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::vector<std::string> cgroup_dirs_left(const std::string& cgroup_path) {
  std::vector<std::string> left;
  for (auto& c : fs::list_dir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string dir = "/sys/fs/cgroup/" + c + cgroup_path;
    if (fs::exists(dir)) left.push_back(dir);
  }
  return left;
}

std::vector<pid_t> processes_with(const std::string& needle) {
  std::vector<pid_t> found;
  auto names = fs::list_dir("/proc");
  if (!names) return found;
  for (auto& name : *names) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = fs::read_file("/proc/" + name + "/cmdline");
    if (cmdline && cmdline->find(needle) != std::string::npos) found.push_back(static_cast<pid_t>(std::atoi(name.c_str())));
  }
  return found;
}

void stop_daemon(pid_t& pid, int sig, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  ::kill(pid, sig);
  pid_t child = pid;
  if (!eventually([&] { return ::waitpid(child, nullptr, WNOHANG) == child; }, grace)) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  pid = -1;
}

pid_t start_daemon(const std::vector<std::string>& args, const std::string& stdout_path,
                   const std::string& stderr_path) {
  // Everything the child needs is made before fork: only async-signal-safe calls after it.
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = stderr_path == stdout_path ? out : ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) ::_exit(126);
  ::dup2(out, 1);
  ::dup2(err, 2);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

Argv::Argv(std::vector<std::string> args) : args_(std::move(args)) {
  for (auto& a : args_) pointers_.push_back(a.data());
  pointers_.push_back(nullptr);
}

}  // namespace deckhand::test
