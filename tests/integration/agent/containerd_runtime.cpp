#include "containerd_runtime.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "containerd_config.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/common/text.h"

namespace deckhand::test {

namespace {

constexpr const char* kContainerd = "/usr/bin/containerd";
constexpr const char* kCtr = "/usr/bin/ctr";
constexpr const char* kShim = "/usr/bin/containerd-shim-runc-v2";
// containerd 1.6 puts every shim's socket here, whatever its state dir;
// libcni caches ADD results below /var/lib/cni.
const std::vector<std::string> kHostSideDirs = {"/run/containerd", "/run/containerd/s", "/var/lib/cni",
                                                "/var/lib/cni/results"};

RunOutput run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  RunOptions o;
  o.argv = argv;
  o.timeout = timeout;
  auto r = run_process(o);
  if (!r) return RunOutput{127, false, "", r.error().message};
  return *r;
}

std::string config_toml(const std::string& d) {
  return containerd_config_toml({d, d + "/state", {{"runc", "/usr/sbin/runc", d + "/runc-root"}}});
}

// ctr's --platform value for this machine ("" when we do not know the name).
std::string oci_platform() {
  struct utsname u {};
  if (::uname(&u) != 0) return "";
  std::string m = u.machine;
  if (m == "x86_64") return "linux/amd64";
  if (m == "aarch64") return "linux/arm64";
  return "";
}

// What ctr's import prints per image: "unpacking <name> (sha256:...)...done".
std::vector<std::string> imported_names(const std::string& ctr_output) {
  std::vector<std::string> names;
  for (auto& line : split_nonempty(ctr_output, '\n')) {
    auto words = split_nonempty(line, ' ');
    if (words.size() >= 2 && words[0] == "unpacking") names.push_back(words[1]);
  }
  return names;
}

// Directories of a cgroup tree, children before their parent.
void collect_depth_first(const std::string& dir, std::vector<std::string>& out) {
  for (auto& name : fs::list_dir(dir).value_or(std::vector<std::string>{})) {
    std::string sub = dir + "/" + name;
    if (fs::exists(sub + "/cgroup.procs")) collect_depth_first(sub, out);
  }
  out.push_back(dir);
}

std::vector<pid_t> cgroup_procs(const std::string& dir) {
  std::vector<pid_t> pids;
  for (auto& line : split_nonempty(fs::read_file(dir + "/cgroup.procs").value_or(""), '\n'))
    pids.push_back(static_cast<pid_t>(std::atoi(line.c_str())));
  return pids;
}

}  // namespace

ContainerdRuntime::ContainerdRuntime() : dir_("deckhand-ctrd") {
  for (auto& d : kHostSideDirs)
    if (!fs::exists(d)) absent_host_dirs_.push_back(d);
  bridge_ = unique_name("dhctd", 15);
  network_ = "dhtest-" + bridge_;
  cgroup_parent_ = "/deckhand-test/" + unique_name("ctrd", 30);
}

std::unique_ptr<ContainerdRuntime> ContainerdRuntime::start(std::string* why_not) {
  for (auto* bin : {kContainerd, kCtr, kShim}) {
    if (!fs::exists(bin)) {
      *why_not = fmt::format("containerd is not installed (apt-get install containerd): no {}", bin);
      return nullptr;
    }
  }
  // Made first, so that a failing step below still cleans up what the earlier ones made.
  std::unique_ptr<ContainerdRuntime> rt(new ContainerdRuntime());
  rt->launch();
  return rt;
}

void ContainerdRuntime::launch() {
  for (auto d : {"root", "state", "cni", "cni-bin", "ipam", "opt", "runc-root"})
    REQUIRE(fs::make_dirs(dir_.sub(d)));
  plan_network();
  write_cni_config();
  std::string pause_tar = pause_image_tar();
  REQUIRE(fs::write_file_atomic(dir_.sub("config.toml"), config_toml(dir_.path())));

  daemon_ = start_daemon({kContainerd, "--config", dir_.sub("config.toml")}, dir_.sub("containerd.log"),
                         dir_.sub("containerd.log"));
  REQUIRE(daemon_ > 0);
  bool exited = false;
  bool up = eventually(
      [&] {
        if (::waitpid(daemon_, nullptr, WNOHANG) == daemon_) exited = true;
        return exited || fs::exists(socket());
      },
      std::chrono::seconds(30));
  if (exited) daemon_ = -1;
  if (!up || exited) FAIL("containerd did not come up:\n" << log_tail());

  auto c = cri::CriClient::connect(endpoint(), std::chrono::seconds(20));
  if (!c) FAIL("cannot connect to containerd: " << c.error().message << "\n" << log_tail());
  client_ = std::move(*c);
  client_->set_timeout(std::chrono::seconds(60));
  // containerd serves on even when its CRI plugin failed to load: ask it.
  auto v = client_->version();
  if (!v) FAIL("containerd's CRI plugin does not answer: " << v.error().message << "\n" << log_tail());
  import_image(pause_tar);
}

void ContainerdRuntime::plan_network() {
  std::string in_use =
      run({"ip", "-o", "-4", "addr", "show"}).out + run({"ip", "-4", "route", "show", "table", "all"}).out;
  // A /24 in 10.120-159.x: apart from cri_world's 10.160-199.x and the bench's 10.200-207.x.
  unsigned n =
      static_cast<unsigned>(::getpid()) * 31 + static_cast<unsigned>(std::hash<std::string>{}(dir_.path()));
  for (int tries = 0; tries < 64; ++tries, ++n) {
    std::string prefix = fmt::format("10.{}.{}.", 120 + n % 40, (n / 40) % 250 + 1);
    if (in_use.find(prefix) != std::string::npos) continue;
    subnet_prefix_ = prefix;
    return;
  }
  FAIL("no free /24 in 10.120.0.0-10.159.255.0 for containerd's pods");
}

void ContainerdRuntime::write_cni_config() {
  // No "routes" in IPAM: pods get no default route, so nothing they send leaves the bridge.
  Json bridge = {{"type", "deckhand-bridge"},
                 {"bridge", bridge_},
                 {"isGateway", true},
                 {"ipMasq", false},
                 {"ipam",
                  {{"type", "deckhand-host-local"},
                   {"ranges", Json::array({Json::array({{{"subnet", subnet_prefix_ + "0/24"}}})})},
                   {"dataDir", dir_.sub("ipam")}}}};
  Json list = {{"cniVersion", "1.0.0"}, {"name", network_}, {"plugins", Json::array({bridge})}};
  REQUIRE(fs::write_file_atomic(dir_.sub("cni/10-" + network_ + ".conflist"), list.dump(2)));
  // containerd takes one bin dir, and runs "loopback" itself for every pod's lo.
  const std::pair<const char*, const char*> plugins[] = {
      {"deckhand-bridge", "bridge/deckhand-bridge"},
      {"deckhand-host-local", "host-local/deckhand-host-local"},
      {"loopback", "loopback/deckhand-loopback"}};
  for (auto& [name, rel] : plugins) {
    std::string target = build_path(std::string("cni-plugins/") + rel);
    REQUIRE_MESSAGE(fs::exists(target), target << " is missing: build it first");
    std::string link = dir_.sub(std::string("cni-bin/") + name);
    REQUIRE_MESSAGE(::symlink(target.c_str(), link.c_str()) == 0,
                    "symlink " << link << ": " << errno_text(errno));
  }
}

// The sandbox image: a fixture from the build dir when there is one, else
// made now from deckhand-pause with the bench's script.
std::string ContainerdRuntime::pause_image_tar() {
  std::string fixture = build_path("tests/fixtures/pause-oci.tar");
  if (fs::exists(fixture)) return fixture;
  std::string pause = build_path("cri/pause/deckhand-pause");
  REQUIRE_MESSAGE(fs::exists(pause), pause << " is missing: build it first");
  std::string out = dir_.sub("pause-oci.tar");
  auto r = run(
      {"/usr/bin/python3", source_path("tests/bench/make_pause_image.py"), "--pause", pause, "--out", out});
  REQUIRE_MESSAGE(r.exit_code == 0, "make_pause_image.py: " << r.err);
  return out;
}

void ContainerdRuntime::import_image(const std::string& oci_tar) {
  std::vector<std::string> argv = {kCtr, "-a", socket(), "-n", "k8s.io", "images", "import"};
  if (auto p = oci_platform(); !p.empty()) argv.insert(argv.end(), {"--platform", p});
  argv.push_back(oci_tar);
  auto r = run(argv, std::chrono::seconds(120));
  REQUIRE_MESSAGE(r.exit_code == 0, "ctr images import " << oci_tar << ": " << r.err << "\n" << log_tail());
  auto names = imported_names(r.out);
  REQUIRE_MESSAGE(!names.empty(), "ctr images import " << oci_tar << " named no image: " << r.out);
  // The CRI plugin learns of new images from containerd's events, a moment later.
  for (auto& name : names) {
    bool listed = eventually([&] {
      auto s = client_->image_status(name, false);
      return s && !s->image().id().empty();
    });
    REQUIRE_MESSAGE(listed, "containerd's CRI plugin does not list " << name << " after import\n"
                                                                     << log_tail());
  }
}

std::string ContainerdRuntime::log_tail(size_t bytes) const {
  std::string log = fs::read_file(dir_.sub("containerd.log")).value_or("");
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

std::vector<pid_t> ContainerdRuntime::shims() const {
  std::vector<pid_t> out;
  std::string address = socket() + std::string(1, '\0');
  for (pid_t p : processes_with(address)) {
    auto cmdline = fs::read_file(fmt::format("/proc/{}/cmdline", p));
    if (cmdline && cmdline->find("containerd-shim") != std::string::npos) out.push_back(p);
  }
  return out;
}

std::vector<std::string> ContainerdRuntime::mounts_under_root() const {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point == dir_.path() || mount_point.rfind(dir_.path() + "/", 0) == 0)
      out.push_back(mount_point);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  return out;
}

// Each shim writes the address of its socket (in /run/containerd/s, shared
// by every containerd on the host) into its bundle; a shim we kill leaves it.
std::vector<std::string> ContainerdRuntime::shim_sockets() const {
  std::vector<std::string> out;
  std::string tasks = dir_.sub("state/io.containerd.runtime.v2.task/k8s.io");
  for (auto& id : fs::list_dir(tasks).value_or(std::vector<std::string>{})) {
    std::string a = fs::read_file(tasks + "/" + id + "/address").value_or("");
    if (a.rfind("unix://", 0) == 0) a = a.substr(7);
    while (!a.empty() && (a.back() == '\n' || a.back() == ' ')) a.pop_back();
    if (a.rfind("/run/containerd/s/", 0) == 0) out.push_back(a);
  }
  return out;
}

void ContainerdRuntime::remove_all_pods() {
  if (!client_) return;
  client_->set_timeout(std::chrono::seconds(20));
  auto pods = client_->list_pod_sandbox();
  if (!pods) return;
  for (auto& p : *pods) {
    auto st = client_->stop_pod_sandbox(p.id());
    if (st) st = client_->remove_pod_sandbox(p.id());
    if (!st)
      std::fprintf(stderr, "containerd cleanup: pod %s: %s\n", p.id().c_str(), st.error().message.c_str());
  }
}

void ContainerdRuntime::stop_daemon() {
  client_.reset();
  if (daemon_ <= 0) return;
  ::kill(daemon_, SIGTERM);
  bool exited =
      eventually([&] { return ::waitpid(daemon_, nullptr, WNOHANG) == daemon_; }, std::chrono::seconds(10));
  if (!exited) {
    ::kill(daemon_, SIGKILL);
    ::waitpid(daemon_, nullptr, 0);
  }
  daemon_ = -1;
}

// Shims outlive containerd by design (they are not our children): ours go now.
void ContainerdRuntime::kill_shims() {
  for (pid_t p : shims()) ::kill(p, SIGKILL);
  if (!eventually([&] { return shims().empty(); }, std::chrono::seconds(5)))
    std::fprintf(stderr, "containerd cleanup: %zu shims stay\n", shims().size());
}

void ContainerdRuntime::remove_cgroups() const {
  std::vector<std::string> dirs;
  for (auto& h : fs::list_dir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string base = "/sys/fs/cgroup/" + h + cgroup_parent_;
    if (fs::exists(base)) collect_depth_first(base, dirs);
  }
  auto live = [&] {
    std::vector<pid_t> pids;
    for (auto& d : dirs)
      for (pid_t p : cgroup_procs(d)) pids.push_back(p);
    return pids;
  };
  bool empty = eventually(
      [&] {
        auto pids = live();
        for (pid_t p : pids) ::kill(p, SIGKILL);
        return pids.empty();
      },
      std::chrono::seconds(5));
  if (!empty)
    std::fprintf(stderr, "containerd cleanup: processes stay in cgroup %s\n", cgroup_parent_.c_str());
  for (auto& d : dirs)
    if (::rmdir(d.c_str()) != 0 && errno != ENOENT)
      std::fprintf(stderr, "containerd cleanup: rmdir %s: %s\n", d.c_str(), errno_text(errno).c_str());
  // The parent all test worlds share; busy while another test runs.
  for (auto& h : fs::list_dir("/sys/fs/cgroup").value_or(std::vector<std::string>{}))
    ::rmdir(("/sys/fs/cgroup/" + h + "/deckhand-test").c_str());
}

// libcni keeps the result of each ADD as /var/lib/cni/results/<network>-<id>-<ifname>:
// for our network, and for the loopback network containerd adds to every pod.
void ContainerdRuntime::remove_cni_cache() const {
  std::string results = "/var/lib/cni/results";
  auto sandboxes = fs::list_dir(dir_.sub("root/io.containerd.grpc.v1.cri/sandboxes"));
  for (auto& f : fs::list_dir(results).value_or(std::vector<std::string>{})) {
    bool ours = f.rfind(network_ + "-", 0) == 0;
    for (auto& id : sandboxes.value_or(std::vector<std::string>{}))
      ours = ours || f == "cni-loopback-" + id + "-lo";
    if (ours) ::unlink((results + "/" + f).c_str());
  }
}

ContainerdRuntime::~ContainerdRuntime() {
  remove_all_pods();
  auto sockets = shim_sockets();
  stop_daemon();
  kill_shims();
  for (auto& s : sockets) ::unlink(s.c_str());
  remove_cgroups();
  for (auto& m : mounts_under_root())
    if (::umount2(m.c_str(), MNT_DETACH) != 0)
      std::fprintf(stderr, "containerd cleanup: umount %s: %s\n", m.c_str(), errno_text(errno).c_str());
  if (fs::exists("/sys/class/net/" + bridge_)) {
    auto r = run({"ip", "link", "del", bridge_});
    if (r.exit_code != 0)
      std::fprintf(stderr, "containerd cleanup: ip link del %s: %s\n", bridge_.c_str(), r.err.c_str());
  }
  remove_cni_cache();
  for (auto it = absent_host_dirs_.rbegin(); it != absent_host_dirs_.rend(); ++it) ::rmdir(it->c_str());
}

}  // namespace deckhand::test
