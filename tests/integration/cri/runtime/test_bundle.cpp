#include "test_bundle.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"

namespace deckhand::test {

namespace {

const char* const kApplets[] = {"sh", "sleep", "echo", "cat", "hostname", "id", "head", "tr", "printf",
                                "true", "false", "ps", "kill", "ls"};

void must(const Status& st) {
  if (!st) {
    std::fprintf(stderr, "test bundle: %s\n", st.error().message.c_str());
    std::abort();
  }
}

void make_rootfs(const std::string& rootfs) {
  must(fs::make_dirs(rootfs + "/bin"));
  for (const char* d : {"proc", "dev", "sys", "tmp", "etc"}) must(fs::make_dirs(rootfs + "/" + d));
  auto busybox = fs::read_file("/bin/busybox");
  must(busybox ? Status{} : tl::unexpected(busybox.error()));
  must(fs::write_file_atomic(rootfs + "/bin/busybox", *busybox, 0755));
  for (const char* applet : kApplets)
    if (::symlink("busybox", (rootfs + "/bin/" + applet).c_str()) != 0) std::abort();
}

Json minimal_config(const std::vector<std::string>& args, const std::string& cgroup) {
  return Json{
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", args},
        {"env", {"PATH=/bin"}},
        {"cwd", "/"},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", "ctr"},
      {"mounts",
       Json::array({{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                    {{"destination", "/dev"},
                     {"type", "tmpfs"},
                     {"source", "tmpfs"},
                     {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
                    {{"destination", "/sys"},
                     {"type", "sysfs"},
                     {"source", "sysfs"},
                     {"options", {"nosuid", "noexec", "nodev", "ro"}}}})},
      {"linux",
       {{"namespaces", Json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                    {{"type", "mount"}}, {{"type", "network"}}})},
        {"cgroupsPath", cgroup}}}};
}

}  // namespace

TestBundle::TestBundle(std::vector<std::string> args, const std::function<void(Json&)>& edit,
                       const std::string& runtime_binary)
    : id_(unique_name("dhrt", 40)),
      cgroup_("/deckhand-test-" + id_),
      runtime_(runtime_binary, dir_.sub("runc")) {
  make_rootfs(bundle() + "/rootfs");
  Json config = minimal_config(args, cgroup_);
  if (edit) edit(config);
  must(fs::write_file_atomic(bundle() + "/config.json", config.dump(2)));
  must(fs::make_dirs(runtime_root()));
  must(fs::make_dirs(state_dir()));
  must(fs::make_dirs(dir_.sub("logs")));
}

TestBundle::~TestBundle() {
  (void)runtime_.remove(id_, true);
  // A monitor that is still around (a failed test) would write into a removed dir.
  for (pid_t p : processes_with(id_))
    if (auto cmd = fs::read_file(fmt::format("/proc/{}/cmdline", p)); cmd && cmd->find("deckhand-monitor") != std::string::npos)
      ::kill(p, SIGKILL);
  for (auto& dir : cgroup_dirs_left(cgroup_)) ::rmdir(dir.c_str());
}

runtime::MonitorSpec TestBundle::monitor_spec() const {
  runtime::MonitorSpec s;
  s.monitor_binary = build_path("cri/monitor/deckhand-monitor");
  s.runtime_binary = runtime_.binary();
  s.runtime_root = runtime_root();
  s.id = id_;
  s.bundle = bundle();
  s.log_path = log_path();
  s.state_dir = state_dir();
  return s;
}

std::vector<std::string> oci_runtime_binaries() {
  return {runtime::OciRuntime::default_binary(), build_path("cri/oci/deckhand-oci")};
}

std::optional<runtime::ExitRecord> wait_exit(const std::string& state_dir, std::chrono::milliseconds timeout) {
  std::optional<runtime::ExitRecord> rec;
  eventually(
      [&] {
        auto r = runtime::read_exit_record(state_dir);
        if (r && r->has_value()) rec = **r;
        return rec.has_value();
      },
      timeout);
  return rec;
}

KillOnExit::~KillOnExit() {
  if (pid > 0 && process_matches(pid, start_time)) ::kill(pid, SIGKILL);
}

}  // namespace deckhand::test
