#include "cri_world.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

namespace deckhand::test {

CriWorld::CriWorld(WorldOptions opts) : opts_(std::move(opts)), dir_("deckhand-cri") {
  unsigned n = static_cast<unsigned>(::getpid()) * 7 + static_cast<unsigned>(std::hash<std::string>{}(dir_.path()));
  bridge_ = unique_name("dhcri", 15);
  subnet_prefix_ = fmt::format("10.{}.{}.", 160 + n % 40, (n / 40) % 250);
  network_ = "dhtest-" + bridge_;
  cgroup_parent_ = "/deckhand-test/" + unique_name("w", 30);
  for (auto d : {"state", "run", "cni", "ipam", "logs", "bin"}) REQUIRE(fs::make_dirs(dir_.sub(d)));
  write_cni_config();
}

void CriWorld::write_cni_config() {
  bool ours = !opts_.reference_plugins;
  Json bridge = {{"type", ours ? "deckhand-bridge" : "bridge"},
                 {"bridge", bridge_},
                 {"isGateway", true},
                 {"ipMasq", false},
                 {"ipam",
                  {{"type", ours ? "deckhand-host-local" : "host-local"},
                   {"ranges", Json::array({Json::array({{{"subnet", subnet_prefix_ + "0/24"}}})})},
                   {"dataDir", dir_.sub("ipam")}}}};
  for (auto& dst : opts_.pod_routes) bridge["ipam"]["routes"].push_back({{"dst", dst}});
  Json plugins = Json::array({bridge});
  if (ours) plugins.push_back(Json{{"type", "deckhand-loopback"}});
  for (auto& raw : opts_.extra_plugins) plugins.push_back(Json::parse(raw));
  Json list = {{"cniVersion", opts_.cni_version}, {"name", network_}, {"plugins", plugins}};
  REQUIRE(fs::write_file_atomic(dir_.sub("cni/10-test.conflist"), list.dump(2)));
}

std::string CriWorld::daemon_log() const {
  auto s = fs::read_file(dir_.sub("daemon.log"));
  return s ? *s : "";
}

void CriWorld::start() {
  std::string bin_dirs = (opts_.extra_bin_dir.empty() ? "" : opts_.extra_bin_dir + ":") +
                         cni_plugin_path() + ":/usr/lib/cni";
  std::vector<std::string> args = {
      build_path("cri/server/deckhand-cri"),
      "--config", dir_.sub("no-config.toml.absent"),
      "--socket", dir_.sub("cri.sock"),
      "--state-dir", state_dir(),
      "--run-dir", run_dir(),
      "--cni-conf-dir", dir_.sub("cni"),
      "--cni-bin-dir", bin_dirs,
      "--cgroup-parent", cgroup_parent_,
      "--kill-grace-ms", "5000",
      "--log-level", "info",
  };
  if (!opts_.runtime.empty()) args.insert(args.end(), {"--runtime", opts_.runtime});
  if (!opts_.netns.empty()) args.insert(args.begin(), {"/usr/bin/nsenter", "--net=" + opts_.netns, "--"});
  // The config file given does not exist: point at an empty one instead.
  REQUIRE(fs::write_file_atomic(dir_.sub("no-config.toml.absent"), ""));
  daemon_ = start_daemon(args, dir_.sub("daemon.log"), dir_.sub("daemon.log"));
  REQUIRE(daemon_ > 0);
  bool exited = false;
  bool up = eventually([&] {
    if (::waitpid(daemon_, nullptr, WNOHANG) == daemon_) exited = true;
    return exited || fs::exists(dir_.sub("cri.sock"));
  }, std::chrono::seconds(20));
  if (exited) daemon_ = -1;
  if (!up || exited) FAIL("deckhand-cri did not come up:\n" << daemon_log());
  auto c = cri::CriClient::connect("unix://" + dir_.sub("cri.sock"), std::chrono::seconds(20));
  if (!c) FAIL("deckhand-cri did not come up: " << c.error().message << "\n" << daemon_log());
  client_ = std::move(*c);
}

void CriWorld::crash() {
  client_.reset();
  if (daemon_ > 0) {
    ::kill(daemon_, SIGKILL);
    ::waitpid(daemon_, nullptr, 0);
    daemon_ = -1;
  }
}

void CriWorld::stop_daemon() {
  client_.reset();
  if (daemon_ > 0) {
    ::kill(daemon_, SIGTERM);
    bool exited = eventually([&] { return ::waitpid(daemon_, nullptr, WNOHANG) == daemon_; },
                             std::chrono::seconds(10));
    if (!exited) {
      ::kill(daemon_, SIGKILL);
      ::waitpid(daemon_, nullptr, 0);
    }
    daemon_ = -1;
  }
}

CriWorld::~CriWorld() {
  // Remove what the test left running, through the daemon, then the rest by hand.
  if (client_) {
    if (auto pods = client_->list_pod_sandbox()) {
      for (auto& p : *pods) {
        (void)client_->stop_pod_sandbox(p.id());
        (void)client_->remove_pod_sandbox(p.id());
      }
    }
  }
  stop_daemon();
  for (auto& m : mounts_under_root()) ::umount2(m.c_str(), MNT_DETACH);
  if (opts_.netns.empty()) {  // in a namespace of its own, the bridge goes with it
    RunOptions del;
    del.argv = {"ip", "link", "del", bridge_};
    (void)run_process(del);
  }
  // Pod cgroups the daemon did not get to remove.
  for (auto& h : fs::list_dir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string base = "/sys/fs/cgroup/" + h + cgroup_parent_;
    if (!fs::exists(base)) continue;
    for (auto& child : fs::list_dir(base).value_or(std::vector<std::string>{})) {
      std::string sub = base + "/" + child;
      for (auto& grand : fs::list_dir(sub).value_or(std::vector<std::string>{})) ::rmdir((sub + "/" + grand).c_str());
      ::rmdir(sub.c_str());
    }
    ::rmdir(base.c_str());
    // The parent all worlds share; still busy while another test runs.
    ::rmdir(("/sys/fs/cgroup/" + h + "/deckhand-test").c_str());
  }
}

std::string CriWorld::import_busybox() {
  auto imported = client_->import_image(build_path("tests/fixtures/busybox-oci.tar"));
  REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().message));
  return "deckhand.test/busybox:latest";
}

::runtime::v1::PodSandboxConfig CriWorld::pod_config(const std::string& name) const {
  ::runtime::v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("test");
  c.mutable_metadata()->set_uid(unique_name("uid-" + name + "-", 60));
  c.set_hostname(name);
  c.set_log_directory(dir_.sub("logs/" + name));
  c.mutable_dns_config();  // present and empty: no nameserver that leads off the machine
  c.mutable_linux()->set_cgroup_parent(cgroup_parent_ + "/pod-" + name);
  (*c.mutable_labels())["app"] = name;
  return c;
}

::runtime::v1::ContainerConfig CriWorld::container_config(const std::string& name,
                                                          const std::vector<std::string>& command) const {
  ::runtime::v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image("deckhand.test/busybox:latest");
  for (auto& a : command) c.add_command(a);
  c.set_log_path(name + ".log");
  return c;
}

std::vector<std::string> CriWorld::bridge_ports() const {
  return fs::list_dir("/sys/class/net/" + bridge_ + "/brif").value_or(std::vector<std::string>{});
}

std::vector<std::string> CriWorld::ip_leases() const {
  std::vector<std::string> out;
  for (auto& n : fs::list_dir(ipam_dir()).value_or(std::vector<std::string>{}))
    if (n.rfind(subnet_prefix_, 0) == 0) out.push_back(n);
  return out;
}

std::vector<std::string> CriWorld::netns_pins() const {
  return fs::list_dir(run_dir() + "/netns").value_or(std::vector<std::string>{});
}

std::vector<std::string> CriWorld::mounts_under_root() const {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mp;
    f >> id >> parent >> dev >> root >> mp;
    if (mp.rfind(dir_.path() + "/", 0) == 0) out.push_back(mp);
  }
  // Deepest first, so that unmounting in order works.
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  return out;
}

bool CriWorld::cgroup_exists(const std::string& path) const {
  return fs::exists("/sys/fs/cgroup/memory" + path) || fs::exists("/sys/fs/cgroup/unified" + path);
}

}  // namespace deckhand::test
