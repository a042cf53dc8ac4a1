#include "agent_bench_cluster.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include "api_bench_http.h"
#include "pod_watch.h"
#include "containerd_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand_world.h"
#include "proc_memory.h"

namespace deckhand::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kImage = "deckhand.test/busybox:1.36";

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ---- the runtime under the agent ----

// deckhand-cri, or containerd seen through its runc handler (the agent asks
// for no handler, so containerd uses its default, runc).
struct NodeRuntime {
  std::unique_ptr<DeckhandWorld> deckhand;
  std::unique_ptr<ContainerdWorld> containerd;
  std::unique_ptr<RuntimeUnderTest> containerd_runc;  // a view of containerd: dropped first
  std::string endpoint, cgroup_root, log;

  cri::CriClient& client() { return deckhand ? deckhand->client() : containerd->client(); }
};

// ctr's import reaches the CRI plugin's image list through an event: the
// agent must not start before the image is there, or it would try to pull.
Status wait_for_image(cri::CriClient& client) {
  std::string last_error;
  bool there = wait_until(
      [&] {
        auto st = client.image_status(kImage, false);
        if (!st) last_error = st.error().message;
        return st && st->has_image();
      },
      30s);
  DH_CHECK(check_not_stopped());
  if (!there) return fail(ErrorKind::NotFound, "the runtime does not list {} after 30 s {}", kImage, last_error);
  return {};
}

Result<std::unique_ptr<NodeRuntime>> start_runtime(const ClusterInputs& in, const RoundOptions& o) {
  auto rt = std::make_unique<NodeRuntime>();
  if (o.runtime == NodeRuntimeKind::Deckhand) {
    DeckhandSetup s{in.deckhand_cri,         o.dir + "/cri",   o.volatile_dir + "/cri",
                    o.cgroup_parent,         in.deckhand_log_level, in.busybox_tar,
                    deckhand_cni_plugins(in.build_dir)};
    DH_CHECK(fs::make_dirs(s.dir));
    rt->log = s.dir + "/deckhand-cri.log";
    DH_TRY(world, DeckhandWorld::start(s));
    rt->deckhand = std::move(world);
    rt->endpoint = "unix://" + s.dir + "/cri.sock";
    rt->cgroup_root = rt->deckhand->cgroup_root();
  } else {
    ContainerdSetup s{o.dir + "/containerd", o.volatile_dir + "/containerd", o.cgroup_parent,
                      in.busybox_tar,         in.pause_tar,                   reference_cni_plugins()};
    DH_CHECK(fs::make_dirs(s.dir));
    rt->log = s.dir + "/containerd.log";
    DH_TRY(world, ContainerdWorld::start(s));
    rt->containerd = std::move(world);
    rt->containerd_runc = rt->containerd->with_handler("runc");
    rt->endpoint = "unix://" + rt->containerd->address();
    rt->cgroup_root = rt->containerd_runc->cgroup_root();
  }
  DH_CHECK(wait_for_image(rt->client()));
  return rt;
}

// ---- the control plane and the agent ----

// A kubeconfig for system:node:<node> from the apiserver's own CA.
Result<std::string> issue_node_kubeconfig(const ClusterInputs& in, const ServerUnderTest& api,
                                          const std::string& api_dir, const std::string& node,
                                          const std::string& out_dir) {
  DH_CHECK(with_context(run_checked({in.apiserver, "issue-cert", "--config", api_dir + "/empty.toml", "--pki-dir",
                                     api_dir + "/pki", "--user", "system:node:" + node, "--group", "system:nodes",
                                     "--out", out_dir, "--server", api.base_url}),
                        "issue a certificate for node {}", node));
  std::string path = out_dir + "/system-node-" + node + ".kubeconfig";
  if (!fs::exists(path)) return fail(ErrorKind::NotFound, "issue-cert made no {}", path);
  return path;
}

struct AgentFiles {
  std::string dir, kubeconfig, log;
};

// deckhand-agent with its defaults for every interval (relist 1 s, status
// and lease 10 s): the agent as an operator runs it.
Result<Daemon> start_agent(const ClusterInputs& in, const AgentFiles& f, const std::string& node,
                           const NodeRuntime& rt, const std::string& ca) {
  DH_CHECK(fs::make_dirs(f.dir));
  DH_CHECK(fs::write_file_atomic(f.dir + "/empty.toml", ""));
  // No nameserver: pods must not send DNS queries off the machine.
  DH_CHECK(fs::write_file_atomic(f.dir + "/resolv.conf", "search agent-bench.invalid\n"));
  DH_TRY(agent, Daemon::start({in.agent, "--config", f.dir + "/empty.toml", "--node-name", node, "--kubeconfig",
                               f.kubeconfig, "--cri-endpoint", rt.endpoint, "--root-dir", f.dir + "/state",
                               "--pod-log-dir", f.dir + "/pods", "--cgroup-root", rt.cgroup_root, "--resolv-conf",
                               f.dir + "/resolv.conf", "--port", "0", "--client-ca-file", ca, "--log-level", "warn"},
                              f.log));
  const std::string ready = fmt::format("deckhand-agent: node {} ready", node);
  bool gone = false, up = false;
  wait_until(
      [&] {
        auto log = fs::read_file(f.log);
        up = log && log->find(ready) != std::string::npos;
        return up || (gone = agent.exited());
      },
      30s);
  DH_CHECK(check_not_stopped());
  if (gone) return fail(ErrorKind::Unavailable, "deckhand-agent exited during start-up; see {}", f.log);
  if (!up) return fail(ErrorKind::DeadlineExceeded, "deckhand-agent not ready after 30 s; see {}", f.log);
  return agent;
}

bool node_is_ready(const Json& node) {
  if (!node.is_object() || !node.contains("status") || !node["status"].is_object()) return false;
  const Json& status = node["status"];
  if (!status.contains("conditions") || !status["conditions"].is_array()) return false;
  for (const Json& c : status["conditions"])
    if (text_of(c, "type") == "Ready" && text_of(c, "status") == "True") return true;
  return false;
}

Status wait_node_ready(HttpClient& admin, const std::string& base_url, const std::string& node) {
  std::string last = "no answer";
  bool ready = wait_until(
      [&] {
        auto r = admin.get(base_url + "/api/v1/nodes/" + node);
        if (!r) {
          last = r.error().message;
          return false;
        }
        last = fmt::format("HTTP {}", r->status);
        auto parsed = parse_json(r->body, "Node");
        bool ok = r->status == 200 && parsed && node_is_ready(*parsed);
        if (!ok) std::this_thread::sleep_for(50ms);
        return ok;
      },
      30s);
  DH_CHECK(check_not_stopped());
  if (!ready) return fail(ErrorKind::DeadlineExceeded, "node {} not Ready after 30 s ({})", node, last);
  return {};
}

// ---- the pods ----

Json pod_manifest(const std::string& name, const std::string& node) {
  Json container = {{"name", "sleep"},
                    {"image", kImage},
                    {"imagePullPolicy", "IfNotPresent"},
                    {"command", Json::array({"sleep", "3600"})}};
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", node},
            {"terminationGracePeriodSeconds", 1},
            {"dnsPolicy", "Default"},
            {"containers", Json::array({container})}}}};
}

Result<std::string> list_resource_version(HttpClient& admin, const std::string& url) {
  auto r = admin.get(url);
  DH_CHECK(expect_success(r, "list pods"));
  DH_TRY(list, parse_json(r->body, "pod list"));
  std::string rv = string_at(list, "metadata", "resourceVersion");
  if (rv.empty()) return fail(ErrorKind::Internal, "list {} has no metadata.resourceVersion", url);
  return rv;
}

// All POSTs at once, one connection per pod made beforehand; t0[i] is taken
// just before pod i's request goes out.
Result<std::vector<Clock::time_point>> create_pods(const std::string& pods_url, const TlsFiles& tls,
                                                   const std::vector<std::string>& names, const std::string& node) {
  std::vector<std::string> bodies;
  for (auto& n : names) bodies.push_back(pod_manifest(n, node).dump());
  std::vector<Clock::time_point> t0(names.size());
  auto warm_up = [&](HttpClient& c, int) { return expect_success(c.get(pods_url + "?limit=1"), "connect"); };
  auto create = [&](HttpClient& c, int i) {
    t0[size_t(i)] = Clock::now();
    return expect_success(c.post(pods_url, bodies[size_t(i)]), "create pod " + names[size_t(i)]);
  };
  int n = int(names.size());
  DH_CHECK(run_concurrently(n, n, tls, warm_up, create));
  return t0;
}

// deletecollection with a grace period of 1 s (the pods' own): the agent
// stops them and removes them from the apiserver.
Status delete_all_pods(const std::string& pods_url, const TlsFiles& tls) {
  DH_TRY(headers, json_headers());
  DH_TRY(easy, make_easy(tls, headers));
  std::string body;
  CURL* c = easy.get();
  std::string url = pods_url + "?gracePeriodSeconds=1";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    static_cast<std::string*>(u)->append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  if (CURLcode rc = curl_easy_perform(c); rc != CURLE_OK)
    return fail(ErrorKind::Unavailable, "DELETE {}: {}", url, curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299)
    return fail(ErrorKind::Internal, "DELETE {}: HTTP {}: {}", url, status, body.substr(0, 300));
  return {};
}

// ---- a round ----

std::string tail_of(const std::string& path, int lines = 20) {
  auto text = fs::read_file(path);
  if (!text) return "";
  size_t at = text->size();
  for (int i = 0; i < lines && at > 0; ++i) at = text->rfind('\n', at - 1);
  return text->substr(at == std::string::npos ? 0 : at);
}

struct RoundFiles {
  std::string api_dir, api_log, runtime_log;
  AgentFiles agent;
};

// The measured part, with everything it needs already running.
Status measure(const RoundOptions& o, const ServerUnderTest& api, PodWatch& watch, Daemon& agent,
               const std::string& node, RoundResult& result) {
  std::vector<std::string> names;
  for (int i = 0; i < o.pods; ++i) names.push_back(fmt::format("bench-{}", i));
  std::string pods_url = api.base_url + "/api/v1/namespaces/default/pods";
  DH_TRY(cpu_before, process_cpu_seconds(agent.pid()));
  DH_TRY(t0, create_pods(pods_url, api.tls, names, node));
  DH_TRY(t1, watch.wait_reached(names, 180s));
  DH_TRY(cpu_after, process_cpu_seconds(agent.pid()));
  result.agent_cpu_s = cpu_after - cpu_before;
  Clock::time_point first = *std::min_element(t0.begin(), t0.end()), last{};
  for (size_t i = 0; i < names.size(); ++i) {
    Clock::time_point running = t1.at(names[i]);
    result.start_ms.push_back(ms_between(t0[i], running));
    last = std::max(last, running);
  }
  result.all_running_s = ms_between(first, last) / 1000.0;
  DH_TRY(memory, memory_of_process(agent.pid()));
  result.agent = memory;
  DH_TRY(proportional, memory_of({agent.pid()}));
  result.agent_pss_kib = proportional.pss_kib;
  // What the agent's memory is made of, mapping by mapping, for whoever wants to shrink it.
  if (!o.keep_logs.empty())
    keep_copy(fmt::format("/proc/{}/smaps", agent.pid()), o.keep_logs,
              fmt::format("{}-r{}-agent.smaps", label_of(o.runtime), o.round));
  auto delete_at = Clock::now();
  DH_CHECK(delete_all_pods(pods_url, api.tls));
  DH_TRY(gone, watch.wait_deleted(names, 180s));
  result.all_gone_s = ms_between(delete_at, gone) / 1000.0;
  return {};
}

// Starts the cluster in order (apiserver, runtime, agent, watch), measures,
// and takes it down in the reverse order as the objects go out of scope.
Status run_cluster(const ClusterInputs& in, const RoundOptions& o, const RoundFiles& f, RoundResult& result) {
  const char* label = label_of(o.runtime);
  std::string node = fmt::format("bench-{}-{}-r{}", o.runtime == NodeRuntimeKind::Deckhand ? "dh" : "ctrd",
                                 ::getpid(), o.round);
  DH_TRY(api, with_context(start_apiserver(in.apiserver, f.api_dir, f.api_log), "deckhand-apiserver"));
  auto rt = start_runtime(in, o);
  if (!rt) {
    std::fprintf(stderr, "--- end of %s ---\n%s\n---\n", f.runtime_log.c_str(), tail_of(f.runtime_log).c_str());
    return tl::unexpected(rt.error().context("{}", label));
  }
  AgentFiles af = f.agent;
  DH_TRY(kubeconfig, issue_node_kubeconfig(in, api, f.api_dir, node, f.agent.dir + "/creds"));
  af.kubeconfig = kubeconfig;
  DH_TRY(agent, start_agent(in, af, node, **rt, f.api_dir + "/pki/ca.crt"));
  DH_TRY(admin, HttpClient::make(api.tls));
  DH_CHECK(wait_node_ready(admin, api.base_url, node));
  std::string pods_url = api.base_url + "/api/v1/namespaces/default/pods";
  DH_TRY(rv, list_resource_version(admin, pods_url));
  DH_TRY(watch, PodWatch::open(pods_url + "?watch=1&resourceVersion=" + rv, api.tls, "Running",
                                [](const Json& pod) { return string_at(pod, "status", "phase") == "Running"; }));
  DH_CHECK(watch->wait_established(30s));
  // What started the cluster (image imports, the agent's first sync) is over
  // before the clock starts.
  if (!wait_for_quiet_machine(30s)) result.notes.push_back("the machine was not quiet before the pods were created");
  DH_CHECK(check_not_stopped());
  auto st = measure(o, api, *watch, agent, node, result);
  if (!st && !stop_requested()) {
    std::fprintf(stderr, "--- end of %s ---\n%s\n---\n", af.log.c_str(), tail_of(af.log).c_str());
    std::fprintf(stderr, "--- end of %s ---\n%s\n---\n", f.runtime_log.c_str(), tail_of(f.runtime_log).c_str());
  }
  return st;
}

}  // namespace

const char* label_of(NodeRuntimeKind k) { return k == NodeRuntimeKind::Deckhand ? "deckhand-cri" : "containerd"; }

Result<ClusterInputs> find_inputs(const std::string& build_dir, bool need_containerd) {
  ClusterInputs in;
  in.build_dir = build_dir;
  in.apiserver = build_dir + "/api-lite/apiserver/deckhand-apiserver";
  in.agent = build_dir + "/agent/deckhand-agent";
  in.deckhand_cri = build_dir + "/cri/server/deckhand-cri";
  in.busybox_tar = build_dir + "/tests/fixtures/busybox-1.36-oci.tar";
  in.pause_tar = build_dir + "/tests/bench/pause-oci.tar";
  std::vector<std::string> needed = {in.apiserver, in.agent, in.deckhand_cri, in.busybox_tar};
  for (auto& [name, path] : deckhand_cni_plugins(build_dir).binaries) needed.push_back(path);
  if (need_containerd) needed.insert(needed.end(), {in.pause_tar, "/usr/bin/containerd", "/usr/bin/ctr"});
  for (auto& f : needed)
    if (!fs::exists(f))
      return fail(ErrorKind::NotFound, "{} is missing (build with `ninja -C <build> bench-agent`)", f);
  return in;
}

Result<RoundResult> run_round(const ClusterInputs& in, const RoundOptions& o) {
  RoundFiles f;
  f.api_dir = o.dir + "/apiserver";
  f.api_log = o.dir + "/apiserver.log";
  f.runtime_log = o.runtime == NodeRuntimeKind::Deckhand ? o.dir + "/cri/deckhand-cri.log"
                                                          : o.dir + "/containerd/containerd.log";
  f.agent = {o.dir + "/agent", "", o.dir + "/agent.log"};
  DH_CHECK(fs::make_dirs(o.dir));
  DH_CHECK(fs::make_dirs(o.volatile_dir));
  RoundResult result;
  result.runtime = label_of(o.runtime);
  result.round = o.round;
  Status st = run_cluster(in, o, f, result);
  if (!o.keep_logs.empty()) {
    std::string prefix = fmt::format("{}-r{}-", result.runtime, o.round);
    for (auto& [path, name] : {std::pair{f.api_log, "apiserver.log"}, {f.agent.log, "agent.log"},
                               {f.runtime_log, "runtime.log"}})
      if (fs::exists(path)) keep_copy(path, o.keep_logs, prefix + name);
  }
  if (!st) return tl::unexpected(st.error());
  return result;
}

}  // namespace deckhand::bench
