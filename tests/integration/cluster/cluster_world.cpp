#include "cluster_world.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fs.h"

namespace deckhand::test {

using namespace std::chrono_literals;

namespace {

// Short enough that a standby takes over well within the test's 20 s.
const std::vector<std::string> kLeaderElectionFlags = {
    "--leader-elect-lease-duration-ms", "3000", "--leader-elect-renew-deadline-ms", "2000",
    "--leader-elect-retry-period-ms", "500"};

std::string tail(const std::string& s, size_t n = 6000) { return s.substr(s.size() > n ? s.size() - n : 0); }

std::string read_or_empty(const std::string& path) {
  auto s = fs::read_file(path);
  return s ? *s : "";
}

}  // namespace

ControlPlaneProcess::ControlPlaneProcess(ApiWorld& api, const std::string& program, const std::string& name,
                                         const std::vector<std::string>& extra_flags)
    : program_name_(program.substr(program.rfind('/') + 1)),
      name_(name),
      stdout_path_(api.dir() + "/" + name + ".out"),
      log_path_(api.dir() + "/" + name + ".log") {
  std::vector<std::string> args = {build_path(program), "--config", api.file(name + ".toml", ""),
                                   "--kubeconfig", api.kubeconfig(), "--log-level", "info"};
  args.insert(args.end(), kLeaderElectionFlags.begin(), kLeaderElectionFlags.end());
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  pid_ = start_daemon(args, stdout_path_, log_path_);
  REQUIRE_MESSAGE(pid_ > 0, "cannot start " << program);
}

ControlPlaneProcess::~ControlPlaneProcess() { stop(SIGTERM); }

bool ControlPlaneProcess::leading() const {
  return read_or_empty(stdout_path_).find(program_name_ + ": leading") != std::string::npos;
}

void ControlPlaneProcess::stop(int sig) { stop_daemon(pid_, sig); }

std::string ControlPlaneProcess::output() const {
  return "--- " + name_ + " stdout:\n" + read_or_empty(stdout_path_) + "--- " + name_ + " log:\n" +
         tail(read_or_empty(log_path_));
}

ClusterWorld::ClusterWorld() {
  cri_ = std::make_unique<CriWorld>();
  cri_->start();
  // Two tags of one image: the second is what `kubectl set image` rolls out.
  for (const char* fixture : {"tests/fixtures/busybox-1.36-oci.tar", "tests/fixtures/busybox-1.36.1-oci.tar"}) {
    auto imported = cri_->client().import_image(build_path(fixture));
    REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().message));
  }
  api_ = std::make_unique<ApiWorld>();
  auto client_config = client::load_kubeconfig(api_->kubeconfig());
  REQUIRE_MESSAGE(client_config, (client_config ? "" : client_config.error().message));
  auto made = client::ApiClient::create(*client_config);
  REQUIRE_MESSAGE(made, (made ? "" : made.error().message));
  client_ = *made;
  node_ = unique_name("cluster", 40);
  // Two schedulers from the start: one leads, the other stands by.
  for (const char* name : {"scheduler-a", "scheduler-b"})
    schedulers_.push_back(std::make_unique<ControlPlaneProcess>(
        *api_, "api-lite/scheduler/deckhand-scheduler", name, std::vector<std::string>{
                                                                 "--backoff-initial-ms", "200", "--backoff-max-ms", "2000"}));
  controller_manager_ = std::make_unique<ControlPlaneProcess>(
      *api_, "api-lite/controller-manager/deckhand-controller-manager", "controller-manager", std::vector<std::string>{});
  agent_ = std::make_unique<AgentProcess>(
      *api_, AgentProcessOptions{node_, "unix://" + cri_->root() + "/cri.sock", cri_->cgroup_parent(),
                                 {"--backoff-base-ms", "500", "--backoff-max-ms", "4000"}});
  agent_->start();
  wait_node_ready();
  bool led = eventually(
      [&] {
        return controller_manager_->leading() && (schedulers_[0]->leading() || schedulers_[1]->leading());
      },
      20s);
  REQUIRE_MESSAGE(led, "no scheduler or controller-manager leads:\n" << logs());
}

ClusterWorld::~ClusterWorld() {
  if (!api_) return;
  // Through the API first: the controllers stop replacing pods, the agent stops them.
  api_->kubectl({"delete", "deployments,replicasets", "--all", "--all-namespaces", "--wait=false"});
  api_->kubectl({"delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=false"});
  bool empty = eventually(
      [&] {
        auto r = api_->kubectl({"get", "pods", "--all-namespaces", "-o", "name"});
        return r.exit_code == 0 && r.out.empty();
      },
      30s);
  CHECK_MESSAGE(empty, "pods left at the end:\n" << api_->kubectl({"get", "pods", "-A", "-o", "wide"}).out << logs());
  agent_.reset();
  controller_manager_.reset();
  schedulers_.clear();
  client_.reset();
  api_.reset();
  cri_.reset();
}

void ClusterWorld::wait_node_ready() {
  Json last;
  bool ready = eventually(
      [&] {
        last = get_json({"node", node_});
        for (const auto& c : last.value("status", Json::object()).value("conditions", Json::array()))
          if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
        return false;
      },
      20s);
  REQUIRE_MESSAGE(ready, "node " << node_ << " not Ready:\n" << last.dump(2) << "\n" << logs());
}

RunOutput ClusterWorld::kubectl_ok(const std::vector<std::string>& args, const std::string& stdin_data) {
  auto r = api_->kubectl(args, stdin_data);
  std::string cmd;
  for (const auto& a : args) cmd += " " + a;
  REQUIRE_MESSAGE(r.exit_code == 0, "kubectl" << cmd << " failed:\n" << r.err << r.out);
  return r;
}

Json ClusterWorld::get_json(const std::vector<std::string>& what) {
  std::vector<std::string> args = {"get"};
  args.insert(args.end(), what.begin(), what.end());
  args.insert(args.end(), {"-o", "json"});
  auto r = api_->kubectl(args);
  if (r.exit_code != 0) return Json::object();
  auto j = parse_json(r.out, "kubectl get");
  return j && j->is_object() ? *j : Json::object();
}

std::vector<Json> ClusterWorld::pods(const std::string& selector, const std::string& ns) {
  Json list = get_json({"pods", "-n", ns, "-l", selector});
  std::vector<Json> out;
  if (list.contains("items") && list["items"].is_array())
    for (const auto& p : list["items"]) out.push_back(p);
  return out;
}

std::vector<Json> ClusterWorld::events_for(const std::string& name, const std::string& ns) {
  Json list = get_json({"events", "-n", ns});
  std::vector<Json> out;
  if (!list.contains("items") || !list["items"].is_array()) return out;
  for (const auto& e : list["items"])
    if (e.value("involvedObject", Json::object()).value("name", "") == name) out.push_back(e);
  return out;
}

std::string ClusterWorld::logs() const {
  std::string s;
  for (const auto& sched : schedulers_) s += sched->output();
  if (controller_manager_) s += controller_manager_->output();
  if (agent_) s += "--- agent log:\n" + tail(agent_->log(), 8000);
  if (api_) s += "--- apiserver log:\n" + tail(api_->log(), 3000);
  if (cri_) s += "--- deckhand-cri log:\n" + tail(cri_->daemon_log(), 3000);
  return s;
}

std::string pod_phase(const Json& pod) { return pod.value("status", Json::object()).value("phase", ""); }

std::string pod_name(const Json& pod) { return pod.value("metadata", Json::object()).value("name", ""); }

bool pod_terminating(const Json& pod) {
  return pod.value("metadata", Json::object()).contains("deletionTimestamp");
}

namespace {
Json pod_condition(const Json& pod, const std::string& type) {
  for (const auto& c : pod.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c;
  return Json::object();
}
}  // namespace

bool pod_ready(const Json& pod) { return pod_condition(pod, "Ready").value("status", "") == "True"; }

std::string pod_condition_message(const Json& pod, const std::string& type) {
  return pod_condition(pod, type).value("message", "");
}

}  // namespace deckhand::test
