// Issue 5's acceptance run: deckhand-apiserver, a CRI runtime and the
// deckhand-agent program, driven with the real kubectl. Built twice: against
// deckhand-cri with our CNI plugins, and (with DECKHAND_TEST_CONTAINERD)
// against Debian's containerd, which proves the agent's CRI use is real.
// Every pod is made at once and then checked in turn, so that the waits overlap.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "agent_process.h"
#include "api_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#ifdef DECKHAND_TEST_CONTAINERD
#include "containerd_runtime.h"
#else
#include "cri_world.h"
#endif

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kImage = "deckhand.test/busybox:1.36";  // tagged: imagePullPolicy defaults to IfNotPresent

// The runtime the agent drives, with what the test needs to know of it.
struct NodeRuntime {
  std::string name;  // what containerIDs start with
  std::string endpoint, cgroup_root, subnet_prefix;
  std::function<std::string()> log_tail;
#ifdef DECKHAND_TEST_CONTAINERD
  std::unique_ptr<ContainerdRuntime> containerd;
#else
  std::unique_ptr<CriWorld> cri;
#endif
};

// nullptr (with a message) when the runtime cannot run on this machine.
std::unique_ptr<NodeRuntime> start_runtime() {
  auto r = std::make_unique<NodeRuntime>();
#ifdef DECKHAND_TEST_CONTAINERD
  std::string why_not;
  r->containerd = ContainerdRuntime::start(&why_not);
  if (!r->containerd) {
    MESSAGE("SKIPPED the containerd half of the acceptance run: " << why_not);
    return nullptr;
  }
  r->containerd->import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
  r->name = "containerd";
  r->endpoint = r->containerd->endpoint();
  r->cgroup_root = r->containerd->cgroup_parent();
  r->subnet_prefix = r->containerd->subnet_prefix();
  r->log_tail = [c = r->containerd.get()] { return c->log_tail(); };
#else
  r->cri = std::make_unique<CriWorld>();
  r->cri->start();
  auto imported = r->cri->client().import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
  REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().message));
  r->name = "deckhand-cri";
  r->endpoint = "unix://" + r->cri->root() + "/cri.sock";
  r->cgroup_root = r->cri->cgroup_parent();
  r->subnet_prefix = r->cri->subnet_prefix();
  r->log_tail = [c = r->cri.get()] {
    std::string log = c->daemon_log();
    return log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  };
#endif
  return r;
}

Json container(const std::string& name, const std::string& script) {
  return {{"name", name}, {"image", kImage}, {"command", {"sh", "-c", script}}};
}

Json pod(const std::string& name, const std::string& node, Json spec) {
  spec["nodeName"] = node;
  if (!spec.contains("terminationGracePeriodSeconds")) spec["terminationGracePeriodSeconds"] = 1;
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
}

Json exec_probe(const std::string& file, int failure_threshold) {
  return {{"exec", {{"command", {"cat", file}}}}, {"periodSeconds", 1}, {"failureThreshold", failure_threshold}};
}

// Every pod of the run, made at once.
Json all_pods(const std::string& node, const std::string& control_dir) {
  Json ctl_volume = {{"name", "ctl"}, {"hostPath", {{"path", control_dir}, {"type", "Directory"}}}};
  Json ctl_mount = {{"name", "ctl"}, {"mountPath", "/ctl"}};

  // An init container, and every kind of volume, seen from inside.
  Json init = container("init", "echo init-done > /work/ready");
  init["volumeMounts"] = {{{"name", "work"}, {"mountPath", "/work"}}};
  Json main = container("main",
                        "cat /work/ready; echo hello from deckhand; echo cfg=$(cat /cfg/greeting); "
                        "echo sec=$(cat /sec/password); echo env=$GREETING/$PASSWORD; cat /info/labels; echo; "
                        "echo name=$(cat /info/name); exec sleep 3600");
  main["env"] = {
      {{"name", "GREETING"}, {"valueFrom", {{"configMapKeyRef", {{"name", "acceptance"}, {"key", "greeting"}}}}}},
      {{"name", "PASSWORD"}, {"valueFrom", {{"secretKeyRef", {{"name", "acceptance"}, {"key", "password"}}}}}}};
  main["volumeMounts"] = {{{"name", "work"}, {"mountPath", "/work"}},
                          {{"name", "cfg"}, {"mountPath", "/cfg"}},
                          {{"name", "sec"}, {"mountPath", "/sec"}},
                          {{"name", "info"}, {"mountPath", "/info"}}};
  Json hello = pod("hello", node,
                   {{"initContainers", {init}},
                    {"containers", {main}},
                    {"volumes",
                     {{{"name", "work"}, {"emptyDir", Json::object()}},
                      {{"name", "cfg"}, {"configMap", {{"name", "acceptance"}}}},
                      {{"name", "sec"}, {"secret", {{"secretName", "acceptance"}}}},
                      {{"name", "info"},
                       {"downwardAPI",
                        {{"items",
                          {{{"path", "labels"}, {"fieldRef", {{"fieldPath", "metadata.labels"}}}},
                           {{"path", "name"}, {"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}}}}}});
  hello["metadata"]["labels"] = {{"app", "hello"}, {"tier", "demo"}};

  Json counter = pod("counter", node,
                     {{"restartPolicy", "Never"},
                      {"containers", {container("count", "for i in 1 2 3; do echo line $i; sleep 1; done")}}});

  // Probes the test steers through files in a hostPath directory.
  Json probed_container = container("probed", "exec sleep 3600");
  probed_container["livenessProbe"] = exec_probe("/ctl/alive", 1);
  probed_container["readinessProbe"] = exec_probe("/ctl/ready", 1);
  probed_container["volumeMounts"] = {ctl_mount};
  Json probed = pod("probed", node, {{"containers", {probed_container}}, {"volumes", {ctl_volume}}});

  // busybox's sleep as PID 1 ignores SIGTERM: the pod ends when its grace period does.
  Json stopper = container("stopper", "exec sleep 3600");
  stopper["lifecycle"] = {{"preStop", {{"exec", {{"command", {"sh", "-c", "sleep 1; echo ran > /ctl/prestop-ran"}}}}}}};
  stopper["volumeMounts"] = {ctl_mount};
  Json prestop =
      pod("prestop", node,
          {{"terminationGracePeriodSeconds", 5}, {"containers", {stopper}}, {"volumes", {ctl_volume}}});
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", {hello, counter, probed, prestop}}};
}

struct Cluster {
  ApiWorld& api;
  NodeRuntime& runtime;
  AgentProcess& agent;

  Json get(const std::string& name) {
    auto r = api.kubectl({"get", "pod", name, "-o", "json"});
    if (r.exit_code != 0) return Json();
    auto j = parse_json(r.out, "pod");
    return j ? *j : Json();
  }

  // Polls the pod until pred holds; fails with the last status seen and the logs.
  Json wait_for(const std::string& name, const std::string& what, const std::function<bool(const Json&)>& pred,
                std::chrono::seconds timeout = 30s) {
    Json last;
    bool ok = eventually(
        [&] {
          last = get(name);
          return !last.is_null() && pred(last);
        },
        timeout);
    REQUIRE_MESSAGE(ok, "pod " << name << ": " << what << " did not happen; last seen:\n"
                               << last.dump(2) << "\nagent log:\n"
                               << tail(agent.log()) << "\nruntime log:\n"
                               << runtime.log_tail());
    return last;
  }

  static std::string tail(const std::string& s) { return s.substr(s.size() > 12000 ? s.size() - 12000 : 0); }
};

std::string phase(const Json& p) { return p.value("status", Json::object()).value("phase", ""); }

std::string condition(const Json& p, const std::string& type) {
  for (const auto& c : p.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c.value("status", "");
  return "";
}

const Json& first_status(const Json& p) {
  static const Json kNone = Json::object();
  const Json& list = p.value("status", Json::object()).contains("containerStatuses")
                         ? p["status"]["containerStatuses"]
                         : kNone;
  return list.is_array() && !list.empty() ? list[0] : kNone;
}

int restarts(const Json& p) { return first_status(p).value("restartCount", -1); }

void run_acceptance() {
  auto runtime = start_runtime();
  if (!runtime) return;
  ApiWorld api;
  TempDir control("deckhand-acceptance-ctl");
  REQUIRE(fs::write_file_atomic(control.sub("alive"), "yes\n"));
  std::string node = unique_name("accept", 40);
  AgentProcess agent(api, {node, runtime->endpoint, runtime->cgroup_root,
                           {"--backoff-base-ms", "1000", "--backoff-max-ms", "8000"}});
  agent.start();
  Cluster c{api, *runtime, agent};

  REQUIRE(api.kubectl({"create", "configmap", "acceptance", "--from-literal=greeting=hi there"}).exit_code == 0);
  REQUIRE(api.kubectl({"create", "secret", "generic", "acceptance", "--from-literal=password=s3cr3t"}).exit_code ==
          0);
  auto created = api.kubectl({"create", "-f", "-"}, all_pods(node, control.path()).dump());
  REQUIRE_MESSAGE(created.exit_code == 0, created.err);

  // A pod runs with an IP from the runtime's network; its init container ran first.
  Json hello = c.wait_for("hello", "Running with a pod IP", [](const Json& p) {
    return phase(p) == "Running" && p["status"].contains("podIP");
  });
  CHECK(hello["status"]["podIP"].get<std::string>().rfind(runtime->subnet_prefix, 0) == 0);
  CHECK(first_status(hello).value("containerID", "").rfind(runtime->name + "://", 0) == 0);
  CHECK(hello["status"]["initContainerStatuses"][0]["state"]["terminated"].value("reason", "") == "Completed");

  // kubectl logs: the volumes' and environment's contents as the container saw them.
  std::string logs;
  bool printed = eventually(
      [&] {
        logs = api.kubectl({"logs", "hello"}).out;
        return logs.find("name=") != std::string::npos;
      },
      20s);
  CHECK_MESSAGE(printed, logs << "\n" << Cluster::tail(agent.log()));
  for (const char* want : {"init-done", "hello from deckhand", "cfg=hi there", "sec=s3cr3t", "env=hi there/s3cr3t",
                           "app=\"hello\"", "tier=\"demo\"", "name=hello"})
    CHECK_MESSAGE(logs.find(want) != std::string::npos, "missing '" << want << "' in:\n" << logs);
  CHECK(api.kubectl({"logs", "hello", "-c", "init"}).exit_code == 0);

  // kubectl logs -f follows a running container to its end.
  c.wait_for("counter", "Running", [](const Json& p) { return phase(p) == "Running" || phase(p) == "Succeeded"; });
  auto followed = api.kubectl({"logs", "-f", "counter"});
  CHECK_MESSAGE(followed.out == "line 1\nline 2\nline 3\n", followed.out << followed.err);
  c.wait_for("counter", "Succeeded", [](const Json& p) { return phase(p) == "Succeeded"; });

  // Readiness follows its probe; a failing liveness probe restarts the container.
  c.wait_for("probed", "Running and not Ready", [](const Json& p) {
    return phase(p) == "Running" && condition(p, "Ready") == "False" && first_status(p).value("started", false);
  });
  REQUIRE(fs::write_file_atomic(control.sub("ready"), "yes\n"));
  Json ready = c.wait_for("probed", "Ready", [](const Json& p) { return condition(p, "Ready") == "True"; });
  CHECK(first_status(ready).value("ready", false));
  ::unlink(control.sub("ready").c_str());
  c.wait_for("probed", "not Ready again", [](const Json& p) { return condition(p, "Ready") == "False"; });
  ::unlink(control.sub("alive").c_str());
  Json restarted = c.wait_for("probed", "restarted by its liveness probe", [](const Json& p) { return restarts(p) >= 1; });
  REQUIRE(fs::write_file_atomic(control.sub("alive"), "yes\n"));
  CHECK(first_status(restarted)["lastState"].contains("terminated"));

  // CrashLoopBackOff, with a back-off that grows (1 s, 2 s, 4 s here; each
  // lasts long enough to be seen by polling).
  REQUIRE(api.kubectl({"create", "-f", "-"},
                      pod("crash", node, {{"containers", {container("crash", "echo crashing; exit 1")}}}).dump())
              .exit_code == 0);
  std::vector<std::string> backoffs;
  c.wait_for("crash", "CrashLoopBackOff with growing back-off", [&](const Json& p) {
    const Json& waiting = first_status(p).value("state", Json::object()).value("waiting", Json::object());
    if (waiting.value("reason", "") == "CrashLoopBackOff") {
      std::string msg = waiting.value("message", "");  // "back-off 2s restarting failed container=..."
      std::string delay = msg.substr(0, msg.find(' ', sizeof "back-off"));
      if (backoffs.empty() || backoffs.back() != delay) backoffs.push_back(delay);
    }
    return backoffs.size() >= 2 && restarts(p) >= 3;
  }, 40s);
  const std::vector<std::string> growing = {"back-off 1s", "back-off 2s", "back-off 4s", "back-off 8s"};
  auto first = std::find(growing.begin(), growing.end(), backoffs[0]);
  REQUIRE_MESSAGE(first != growing.end(), backoffs[0]);
  for (size_t i = 1; i < backoffs.size() && first + i < growing.end(); ++i) CHECK(backoffs[i] == *(first + i));
  auto previous = api.kubectl({"logs", "crash", "--previous"});
  CHECK_MESSAGE(previous.out.find("crashing") != std::string::npos, previous.out << previous.err);

  // kill -9 of the agent and a restart: running containers are adopted, not restarted.
  Json before = c.get("hello");
  Json probed_before = c.get("probed");
  agent.stop(SIGKILL);
  agent.start();
  auto lease_time = [&] {
    auto r = api.kubectl({"get", "lease", "-n", "kube-node-lease", node, "-o", "jsonpath={.spec.renewTime}"});
    return r.out;
  };
  std::string renewed = lease_time();
  REQUIRE(eventually([&] { return lease_time() != renewed; }, 20s));
  // Long enough for several relists of the new agent: a container it failed to adopt would be replaced.
  REQUIRE(fs::write_file_atomic(control.sub("ready"), "yes\n"));
  c.wait_for("probed", "Ready after the agent's restart", [&](const Json& p) { return condition(p, "Ready") == "True"; });
  Json after = c.get("hello");
  CHECK(first_status(after).value("containerID", "") == first_status(before).value("containerID", "x"));
  CHECK(restarts(after) == restarts(before));
  CHECK(first_status(c.get("probed")).value("containerID", "") == first_status(probed_before).value("containerID", "x"));

  // preStop runs, then the grace period (5 s) ends the pod: gone within 8 s, never before the hook finished.
  c.wait_for("prestop", "Running", [](const Json& p) { return phase(p) == "Running"; });
  auto t0 = Clock::now();
  REQUIRE(api.kubectl({"delete", "pod", "prestop", "--wait=false"}).exit_code == 0);
  bool gone = eventually([&] { return api.kubectl({"get", "pod", "prestop"}).exit_code != 0; }, 12s);
  auto elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  REQUIRE_MESSAGE(gone, Cluster::tail(agent.log()));
  CHECK(fs::exists(control.sub("prestop-ran")));
  CHECK_MESSAGE(elapsed <= 8.0, "gone after " << elapsed << " s");
  CHECK_MESSAGE(elapsed >= 3.0, "gone after " << elapsed << " s: the grace period was not honoured");

  // Everything goes; the agent confirms each deletion.
  REQUIRE(api.kubectl({"delete", "pods", "--all", "--grace-period=1", "--wait=false"}).exit_code == 0);
  CHECK_MESSAGE(eventually([&] { return api.kubectl({"get", "pods", "-o", "name"}).out.empty(); }, 30s),
                Cluster::tail(agent.log()));
  CHECK(eventually([&] { return !fs::exists(agent.state_dir() + "/pods") || fs::list_dir(agent.state_dir() + "/pods")->empty(); }, 10s));
}

}  // namespace

#ifdef DECKHAND_TEST_CONTAINERD
TEST_CASE("deckhand-agent acceptance on containerd") { run_acceptance(); }
#else
TEST_CASE("deckhand-agent acceptance on deckhand-cri") { run_acceptance(); }
#endif
