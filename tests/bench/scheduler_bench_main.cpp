// deckhand-scheduler-bench: deckhand-scheduler alone against a private
// deckhand-apiserver with fake nodes (Node objects and Leases, no agents)
// and pending pods, in issue 6's two shapes. The pods are created first,
// with the scheduler not running; then it starts, and a watch times each
// pod's binding. Prints pods bound per second, per-pod latency and the
// scheduler's memory and CPU.
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api_bench_http.h"
#include "api_bench_servers.h"
#include "bench_env.h"
#include "bench_options.h"
#include "bench_stats.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "pod_watch.h"

namespace deckhand::bench {

namespace {

using Clock = PodWatch::Clock;

struct Shape {
  std::string name;
  int nodes = 0, pods = 0;
  bool mixed = false;  // nodeSelectors, tolerations, required anti-affinity
};

struct Options {
  std::vector<Shape> shapes = {{"basic", 5000, 10000, false}, {"mixed", 1000, 10000, true}};
  int clients = 16;  // connections creating the objects
  std::string build_dir;
  std::string keep_logs;
  bool show_help = false;
};

const char* scheduler_usage() {
  return R"(Usage: deckhand-scheduler-bench [flags]

For each shape: starts a private deckhand-apiserver, creates its Nodes (Ready,
4 cpu, 32Gi, 110 pods) and their Leases, then its pods (no nodeName; requests
100m cpu, 256Mi), opens a watch, starts deckhand-scheduler (no leader
election) and times every pod's binding as the watch sees it. Shapes:
  basic   5000 nodes x 10000 plain pods (kube-scheduler's SchedulingBasic)
  mixed   1000 nodes x 10000 pods: a quarter with a zone nodeSelector, a
          quarter tolerating the taint one node in eleven has, a quarter in
          groups of five with required anti-affinity on the hostname
Prints pods bound per second, latencies, the scheduler's RSS and CPU, and
checks the mixed shape's bindings against its constraints.

Flags:
  --only basic|mixed     one shape
  --nodes N --pods N     override the shapes' sizes
  --clients N            connections creating objects [16]
  --build-dir DIR        meson build dir [three levels above this program]
  --keep-logs DIR        copy the apiserver's and scheduler's logs to DIR
  -h, --help             this text
)";
}

Result<Options> parse(int argc, char** argv) {
  Options o;
  std::optional<int> nodes, pods;
  auto flag_of = [&](std::string_view flag, std::string_view v) -> Status {
    if (flag == "--only") {
      std::erase_if(o.shapes, [&](const Shape& s) { return s.name != v; });
      if (o.shapes.empty()) return fail(ErrorKind::InvalidArgument, "--only wants basic or mixed, got '{}'", v);
    } else if (flag == "--nodes") {
      DH_TRY(n, positive(flag, v));
      nodes = n;
    } else if (flag == "--pods") {
      DH_TRY(n, positive(flag, v));
      pods = n;
    } else if (flag == "--clients") {
      DH_TRY(n, positive(flag, v));
      o.clients = n;
    } else if (flag == "--build-dir") {
      o.build_dir = v;
    } else if (flag == "--keep-logs") {
      o.keep_logs = v;
    } else {
      return unknown_flag(flag);
    }
    return {};
  };
  DH_CHECK(parse_flags(argc, argv, o.show_help, flag_of));
  for (auto& s : o.shapes) {
    if (nodes) s.nodes = *nodes;
    if (pods) s.pods = *pods;
  }
  if (o.build_dir.empty() && !o.show_help) {
    DH_TRY(dir, build_dir_of_self());
    o.build_dir = dir;
  }
  return o;
}

// ---- the objects ----

std::string node_name(int i) { return fmt::format("fake-node-{:05d}", i); }
std::string pod_name(int i) { return fmt::format("pending-{:05d}", i); }
std::string zone_of(int node) { return fmt::format("zone-{}", node % 10); }
// One node in eleven, so that every zone has untainted nodes too.
bool tainted(const Shape& s, int node) { return s.mixed && node % 11 == 10; }

Json node_object(const Shape& s, int i) {
  Json resources = {{"cpu", "4"}, {"memory", "32Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}};
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", node_name(i)},
                 {"labels",
                  {{"kubernetes.io/hostname", node_name(i)},
                   {"kubernetes.io/os", "linux"},
                   {"topology.kubernetes.io/zone", zone_of(i)}}}}},
               {"spec", Json::object()},
               {"status",
                {{"capacity", resources},
                 {"allocatable", resources},
                 {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}})}}}};
  if (tainted(s, i))
    node["spec"]["taints"] = Json::array({{{"key", "dedicated"}, {"value", "infra"}, {"effect", "NoSchedule"}}});
  return node;
}

Json lease_object(int i) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", node_name(i)}, {"namespace", "kube-node-lease"}}},
          {"spec", {{"holderIdentity", node_name(i)}, {"leaseDurationSeconds", 40}}}};
}

enum class PodKind { Plain, ZoneSelector, Tolerating, AntiAffinity };

PodKind kind_of(const Shape& s, int i) {
  if (!s.mixed) return PodKind::Plain;
  switch (i % 4) {
    case 0: return PodKind::ZoneSelector;
    case 1: return PodKind::Tolerating;
    case 2: return PodKind::AntiAffinity;
    default: return PodKind::Plain;
  }
}

std::string group_of(int i) { return fmt::format("group-{}", i / 20); }  // five AntiAffinity pods each

Json pod_object(const Shape& s, int i) {
  Json container = {{"name", "app"},
                    {"image", "deckhand.test/busybox:1.36"},
                    {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "256Mi"}}}}}};
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", pod_name(i)}, {"namespace", "default"}, {"labels", {{"app", "bench"}}}}},
              {"spec", {{"containers", Json::array({container})}}}};
  Json& spec = pod["spec"];
  switch (kind_of(s, i)) {
    case PodKind::ZoneSelector:
      spec["nodeSelector"] = {{"topology.kubernetes.io/zone", zone_of(i / 4)}};
      break;
    case PodKind::Tolerating:
      spec["tolerations"] = Json::array(
          {{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "infra"}, {"effect", "NoSchedule"}}});
      break;
    case PodKind::AntiAffinity:
      pod["metadata"]["labels"]["group"] = group_of(i);
      spec["affinity"] = {
          {"podAntiAffinity",
           {{"requiredDuringSchedulingIgnoredDuringExecution",
             Json::array({{{"labelSelector", {{"matchLabels", {{"group", group_of(i)}}}}},
                           {"topologyKey", "kubernetes.io/hostname"}}})}}}};
      break;
    case PodKind::Plain:
      break;
  }
  return pod;
}

// ---- one shape ----

struct ShapeResult {
  Shape shape;
  double create_s = 0;                  // nodes, leases and pods created
  double first_bind_s = 0;              // scheduler start -> first binding seen
  double all_bound_s = 0;               // scheduler start -> last binding seen
  double window_s = 0;                  // first -> last binding
  std::vector<double> since_start_ms;   // per pod: scheduler start -> bound
  std::vector<double> since_create_ms;  // per pod: its POST -> bound
  ProcessMemory scheduler;
  double scheduler_cpu_s = 0;
  int violations = -1;  // mixed shape: bindings that break a constraint; -1 unchecked
  std::vector<std::string> notes;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

Status create_all(const Options& o, const ServerUnderTest& api, const Shape& s,
                  std::vector<Clock::time_point>& pod_created) {
  auto warm = [&](HttpClient& c, int) { return expect_success(c.get(api.base_url + "/version"), "GET /version"); };
  DH_CHECK(run_concurrently(o.clients, s.nodes, api.tls, warm, [&](HttpClient& c, int i) {
    return expect_success(c.post(api.base_url + "/api/v1/nodes", node_object(s, i).dump()), "create node");
  }));
  DH_CHECK(run_concurrently(o.clients, s.nodes, api.tls, warm, [&](HttpClient& c, int i) {
    return expect_success(
        c.post(api.base_url + "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease_object(i).dump()),
        "create lease");
  }));
  pod_created.assign(s.pods, Clock::time_point{});
  DH_CHECK(run_concurrently(o.clients, s.pods, api.tls, warm, [&](HttpClient& c, int i) {
    std::string body = pod_object(s, i).dump();
    pod_created[i] = Clock::now();
    return expect_success(c.post(api.base_url + "/api/v1/namespaces/default/pods", body), "create pod");
  }));
  return {};
}

// The mixed shape's constraints, checked on the pods as bound.
Result<int> count_violations(const ServerUnderTest& api, const Shape& s) {
  DH_TRY(client, HttpClient::make(api.tls));
  auto r = client.get(api.base_url + "/api/v1/namespaces/default/pods");
  DH_CHECK(expect_success(r, "list pods"));
  DH_TRY(list, parse_json(r->body, "pod list"));
  std::map<std::string, int> node_index;
  for (int i = 0; i < s.nodes; ++i) node_index[node_name(i)] = i;
  std::set<std::pair<std::string, std::string>> group_nodes;
  int bad = 0;
  for (const Json& pod : list.value("items", Json::array())) {
    std::string name = string_at(pod, "metadata", "name");
    int i = std::stoi(name.substr(name.rfind('-') + 1));
    auto node = node_index.find(string_at(pod, "spec", "nodeName"));
    if (node == node_index.end()) {
      ++bad;
      continue;
    }
    PodKind k = kind_of(s, i);
    if (tainted(s, node->second) && k != PodKind::Tolerating) ++bad;
    if (k == PodKind::ZoneSelector && zone_of(node->second) != zone_of(i / 4)) ++bad;
    if (k == PodKind::AntiAffinity && !group_nodes.insert({group_of(i), node->first}).second) ++bad;
  }
  return bad;
}

Status run_shape(const Options& o, const TempRoot& root, ShapeResult& result) {
  const Shape& s = result.shape;
  std::string dir = root.sub(s.name);
  std::string api_log = dir + "/apiserver.log", sched_log = dir + "/scheduler.log";
  DH_TRY(api, start_apiserver(o.build_dir + "/api-lite/apiserver/deckhand-apiserver", dir + "/api", api_log));
  auto keep = [&] {
    if (o.keep_logs.empty()) return;
    keep_copy(api_log, o.keep_logs, s.name + "-apiserver.log");
    keep_copy(sched_log, o.keep_logs, s.name + "-scheduler.log");
  };
  std::vector<Clock::time_point> created;
  auto create_start = Clock::now();
  DH_CHECK(create_all(o, api, s, created));
  result.create_s = ms_between(create_start, Clock::now()) / 1000.0;

  DH_TRY(admin, HttpClient::make(api.tls));
  auto listed = admin.get(api.base_url + "/api/v1/namespaces/default/pods?limit=1");
  DH_CHECK(expect_success(listed, "list pods"));
  DH_TRY(list, parse_json(listed->body, "pod list"));
  std::string rv = string_at(list, "metadata", "resourceVersion");
  DH_TRY(watch, PodWatch::open(api.base_url + "/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + rv, api.tls,
                               "bound", [](const Json& pod) { return !string_at(pod, "spec", "nodeName").empty(); }));
  DH_CHECK(watch->wait_established(std::chrono::seconds(30)));
  if (!wait_for_quiet_machine(std::chrono::seconds(30))) result.notes.push_back("the machine was not quiet");

  std::string config = dir + "/scheduler.toml";
  DH_CHECK(fs::write_file_atomic(config, ""));
  auto start = Clock::now();
  DH_TRY(scheduler, Daemon::start({o.build_dir + "/api-lite/scheduler/deckhand-scheduler", "--config", config,
                                   "--kubeconfig", dir + "/api/admin.kubeconfig", "--leader-elect", "false",
                                   "--log-level", "warn"},
                                  sched_log));
  std::vector<std::string> names;
  for (int i = 0; i < s.pods; ++i) names.push_back(pod_name(i));
  // Until all are bound, or no pod was bound for 30 s.
  Result<std::map<std::string, Clock::time_point>> bound;
  for (size_t progress = 0;;) {
    bound = watch->wait_reached(names, std::chrono::seconds(30));
    if (bound || bound.error().kind != ErrorKind::DeadlineExceeded || watch->reached_count() == progress) break;
    progress = watch->reached_count();
  }
  if (!bound) {
    keep();
    return tl::unexpected(bound.error().context("see {}", sched_log));
  }
  DH_TRY(cpu, process_cpu_seconds(scheduler.pid()));
  result.scheduler_cpu_s = cpu;
  DH_TRY(memory, memory_of_process(scheduler.pid()));
  result.scheduler = memory;
  Clock::time_point first = Clock::time_point::max(), last{};
  for (int i = 0; i < s.pods; ++i) {
    Clock::time_point t = bound->at(names[i]);
    first = std::min(first, t);
    last = std::max(last, t);
    result.since_start_ms.push_back(ms_between(start, t));
    result.since_create_ms.push_back(ms_between(created[i], t));
  }
  result.first_bind_s = ms_between(start, first) / 1000.0;
  result.all_bound_s = ms_between(start, last) / 1000.0;
  result.window_s = ms_between(first, last) / 1000.0;
  if (s.mixed) {
    DH_TRY(bad, count_violations(api, s));
    result.violations = bad;
  }
  scheduler.stop(std::chrono::seconds(5));
  keep();
  return {};
}

void print(const ShapeResult& r) {
  const Shape& s = r.shape;
  auto q = [](const std::vector<double>& v, double p) { return quantile(v, p); };
  double rate = r.window_s > 0 ? s.pods / r.window_s : 0;
  std::printf("\n%s: %d nodes x %d pods (objects created in %.1f s)\n", s.name.c_str(), s.nodes, s.pods, r.create_s);
  std::printf("  pods bound per second (first -> last binding)      %8.0f   (%d pods in %.2f s)\n", rate, s.pods,
              r.window_s);
  std::printf("  pods bound per second (scheduler start -> last)    %8.0f   (first binding %.2f s after start)\n",
              s.pods / r.all_bound_s, r.first_bind_s);
  std::printf("  scheduler start -> bound   median %8.1f ms  p90 %8.1f  p99 %8.1f  max %8.1f\n",
              q(r.since_start_ms, 0.5), q(r.since_start_ms, 0.9), q(r.since_start_ms, 0.99),
              q(r.since_start_ms, 1.0));
  std::printf("  pod created -> bound       median %8.1f ms  p90 %8.1f  p99 %8.1f  max %8.1f\n",
              q(r.since_create_ms, 0.5), q(r.since_create_ms, 0.9), q(r.since_create_ms, 0.99),
              q(r.since_create_ms, 1.0));
  std::printf("  scheduler VmRSS %.1f MiB (peak %.1f MiB), CPU %.2f s\n", double(r.scheduler.rss_kib) / 1024,
              double(r.scheduler.peak_kib) / 1024, r.scheduler_cpu_s);
  if (r.violations >= 0) std::printf("  bindings breaking a constraint: %d\n", r.violations);
  for (auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
  if (!s.mixed)
    std::printf("  target (issue 6): >= 2000 pods/s: %s (%.0f pods/s)\n", rate >= 2000 ? "MET" : "NOT MET", rate);
}

int run(const Options& o) {
  auto root = TempRoot::create("deckhand-scheduler-bench");
  if (!root) {
    std::fprintf(stderr, "deckhand-scheduler-bench: %s\n", root.error().message.c_str());
    return 1;
  }
  int failed = 0;
  for (const auto& shape : o.shapes) {
    if (stop_requested()) break;
    std::fprintf(stderr, "%s: %d nodes, %d pods: creating them, then starting the scheduler\n", shape.name.c_str(),
                 shape.nodes, shape.pods);
    ShapeResult r{shape};
    if (auto st = run_shape(o, *root, r); !st) {
      std::printf("\nFAILED: %s: %s\n", shape.name.c_str(), st.error().message.c_str());
      ++failed;
      continue;
    }
    print(r);
    (void)fs::remove_all(root->sub(shape.name));
  }
  return failed ? 1 : 0;
}

}  // namespace

}  // namespace deckhand::bench

int main(int argc, char** argv) {
  using namespace deckhand::bench;
  return bench_main("deckhand-scheduler-bench", argc, argv, &parse, scheduler_usage(), false, &run);
}
