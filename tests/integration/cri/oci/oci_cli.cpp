#include "oci_cli.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"

namespace deckhand::test {
namespace {

const char* const kApplets[] = {"sh",   "sleep", "echo", "cat",  "hostname", "id",   "head",  "ps",
                                "kill", "ls",    "stat", "touch", "readlink", "true", "grep", "mkdir"};

void make_rootfs(const std::string& rootfs) {
  REQUIRE(fs::make_dirs(rootfs + "/bin"));
  for (const char* d : {"proc", "dev", "sys", "tmp", "etc"}) REQUIRE(fs::make_dirs(rootfs + "/" + d));
  auto busybox = fs::read_file("/bin/busybox");
  REQUIRE(busybox);
  REQUIRE(fs::write_file_atomic(rootfs + "/bin/busybox", *busybox, 0755));
  for (const char* applet : kApplets) REQUIRE(::symlink("busybox", (rootfs + "/bin/" + applet).c_str()) == 0);
  REQUIRE(fs::write_file_atomic(rootfs + "/etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"));
  REQUIRE(fs::write_file_atomic(rootfs + "/etc/group", "root:x:0:\napp:x:1000:\n"));
}

}  // namespace

std::string oci_binary() { return build_path("cri/oci/deckhand-oci"); }

OciBundle::OciBundle(std::vector<std::string> args, const std::function<void(runtime::ContainerSpec&)>& edit,
                     const std::function<void(Json&)>& edit_json)
    : id_(unique_name("dhoci", 40)),
      cgroup_parent_("/deckhand-test"),
      cgroup_(cgroup_parent_ + "/" + id_),
      runtime_(oci_binary(), dir_.sub("state")) {
  // The inits that create leaves behind are reparented to us, as to deckhand-monitor.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  make_rootfs(rootfs());
  runtime::ContainerSpec s;
  s.id = id_;
  s.rootfs = rootfs();
  s.args = std::move(args);
  s.env = {"PATH=/bin"};
  s.cgroups_path = cgroup_;
  s.hostname = "ctr";
  s.namespaces.new_net_ns = s.namespaces.new_ipc_ns = s.namespaces.new_uts_ns = s.namespaces.new_pid_ns = true;
  if (edit) edit(s);
  auto cfg = runtime::build_oci_config(s);
  REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().message));
  if (edit_json) edit_json(*cfg);
  REQUIRE(fs::write_file_atomic(bundle() + "/config.json", cfg->dump(2)));
}

OciBundle::~OciBundle() {
  (void)cli({"delete", "--force", id_});
  pid_t pid = init_pid();
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    (void)wait_init(std::chrono::seconds(5));
  }
  for (auto& dir : cgroup_dirs_left(cgroup_)) ::rmdir(dir.c_str());
  // The shared parent goes when the last test left it empty.
  for (auto& dir : cgroup_dirs_left(cgroup_parent_)) ::rmdir(dir.c_str());
  // Orphans of the container that came to us as its subreaper: ours to reap,
  // or they stay zombies under a PID 1 that may not reap.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

int OciBundle::create() {
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = ::open(out_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE((in >= 0 && out >= 0 && err >= 0));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  std::vector<std::string> args{oci_binary(), "--root", state_root(), "create", "--bundle",
                                bundle(),     "--pid-file", pid_file(), id_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in);
  ::close(out);
  ::close(err);
  REQUIRE(rc == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t OciBundle::init_pid() const {
  auto text = fs::read_file(pid_file());
  return text ? static_cast<pid_t>(std::atoi(text->c_str())) : 0;
}

std::optional<int> OciBundle::wait_init(std::chrono::milliseconds timeout) {
  pid_t pid = init_pid();
  if (pid <= 0) return std::nullopt;
  std::optional<int> code;
  eventually(
      [&] {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return r != 0;
      },
      timeout);
  return code;
}

RunOutput OciBundle::cli(std::vector<std::string> args) {
  RunOptions ro;
  ro.argv = {oci_binary(), "--root", state_root()};
  ro.argv.insert(ro.argv.end(), args.begin(), args.end());
  ro.timeout = std::chrono::seconds(30);
  auto out = run_process(ro);
  REQUIRE(out);
  return *out;
}

std::string OciBundle::status() {
  auto r = cli({"state", id_});
  if (r.exit_code != 0) return "";
  auto j = parse_json(r.out, "state");
  return j ? j->value("status", "") : "";
}

std::string OciBundle::out() const { return fs::read_file(out_file()).value_or(""); }
std::string OciBundle::err() const { return fs::read_file(err_file()).value_or(""); }

std::vector<std::string> mounts_with(const std::string& needle) {
  std::vector<std::string> out;
  auto text = fs::read_file("/proc/self/mountinfo");
  if (!text) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    pos = end + 1;
  }
  return out;
}

}  // namespace deckhand::test
