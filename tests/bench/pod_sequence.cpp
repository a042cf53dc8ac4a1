#include "pod_sequence.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "bench_env.h"
#include "deckhand/common/fs.h"

namespace deckhand::bench {

namespace v1 = ::runtime::v1;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

v1::PodSandboxConfig pod_config(const RuntimeUnderTest& rt, const SequenceOptions& o, int i) {
  std::string name = fmt::format("bench-{}", i);
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("bench");
  c.mutable_metadata()->set_uid(fmt::format("{}-{}", o.run_tag, i));
  c.set_hostname(name);
  c.set_log_directory(fmt::format("{}/pod-{}", rt.log_root(), i));
  c.mutable_dns_config();  // present and empty: no nameserver that leads off the machine
  c.mutable_linux()->set_cgroup_parent(fmt::format("{}/pod-{}", rt.cgroup_root(), i));
  (*c.mutable_labels())["app"] = "bench";
  return c;
}

v1::ContainerConfig container_config(const SequenceOptions& o) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("sleep");
  c.mutable_image()->set_image(o.image);
  c.add_command("sleep");
  c.add_command("3600");
  c.set_log_path("sleep.log");
  return c;
}

struct Pod {
  std::string sandbox_id, container_id;
};

// The pods of one sequence; whatever is still here on destruction (a failure
// or Ctrl-C half-way) is removed through CRI, untimed.
class PodSet {
 public:
  PodSet(RuntimeUnderTest& rt, int n) : rt_(rt), pods_(static_cast<size_t>(n)) {}
  ~PodSet() {
    for (auto& p : pods_)
      if (!p.sandbox_id.empty()) {
        (void)rt_.client().stop_pod_sandbox(p.sandbox_id);
        (void)rt_.client().remove_pod_sandbox(p.sandbox_id);
      }
  }
  Pod& operator[](int i) { return pods_[static_cast<size_t>(i)]; }

 private:
  RuntimeUnderTest& rt_;
  std::vector<Pod> pods_;
};

// Runs fn(i) for i in [0, n) on k threads; returns the first error (the
// others stop taking new work once one failed).
Status for_each_pod(int n, int k, const std::function<Status(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    for (int i = next++; i < n; i = next++) {
      Status st = check_not_stopped();
      if (st) st = fn(i);
      if (!st) {
        std::lock_guard l(mu);
        if (first) first = st;
        next = n;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < k; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return first;
}

Status start_pod(RuntimeUnderTest& rt, const SequenceOptions& o, int i, Pod& pod, PodTimes& t) {
  auto& c = rt.client();
  auto config = pod_config(rt, o, i);
  // The kubelet makes the pod's log directory before RunPodSandbox, so do we.
  DH_CHECK(fs::make_dirs(config.log_directory()));
  auto t0 = Clock::now();
  DH_TRY(sandbox, c.run_pod_sandbox(config, rt.runtime_handler()));
  t.sandbox_ms = ms_since(t0);
  pod.sandbox_id = sandbox;
  auto t1 = Clock::now();
  DH_TRY(container, c.create_container(sandbox, container_config(o), config));
  pod.container_id = container;
  DH_CHECK(c.start_container(container));
  t.container_ms = ms_since(t1);
  return {};
}

// StopContainer with timeout 0 kills at once: sleep, PID 1 of its own PID
// namespace, ignores SIGTERM, and a grace period would only measure itself.
Status stop_pod(RuntimeUnderTest& rt, Pod& pod, PodTimes& t) {
  auto& c = rt.client();
  auto t0 = Clock::now();
  DH_CHECK(c.stop_container(pod.container_id, 0));
  DH_CHECK(c.remove_container(pod.container_id));
  t.container_down_ms = ms_since(t0);
  auto t1 = Clock::now();
  DH_CHECK(c.stop_pod_sandbox(pod.sandbox_id));
  DH_CHECK(c.remove_pod_sandbox(pod.sandbox_id));
  t.sandbox_down_ms = ms_since(t1);
  pod.sandbox_id.clear();
  return {};
}

Status measure_memory(RuntimeUnderTest& rt, int pods, SequenceResult& r) {
  // Let start-up work (a Go runtime's GC, lazy page faults) settle first.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  DH_TRY(per_pod, rt.per_pod_processes());
  DH_TRY(pp, memory_of(per_pod));
  DH_TRY(daemon, memory_of(rt.daemon_processes()));
  if (pp.processes != static_cast<size_t>(2 * pods))
    std::fprintf(stderr, "%s: note: %zu per-pod processes for %d pods (expected %d)\n", rt.label().c_str(),
                 pp.processes, pods, 2 * pods);
  r.per_pod_processes = pp;
  r.daemon = daemon;
  return {};
}

}  // namespace

Result<SequenceResult> run_sequence(RuntimeUnderTest& rt, const SequenceOptions& o) {
  SequenceResult r;
  r.label = rt.label();
  r.pods = o.pods;
  r.times.resize(static_cast<size_t>(o.pods));
  PodSet pods(rt, o.pods);
  auto t0 = Clock::now();
  auto started = for_each_pod(o.pods, o.concurrency, [&](int i) {
    return start_pod(rt, o, i, pods[i], r.times[static_cast<size_t>(i)]);
  });
  if (!started) return tl::unexpected(started.error().context("{}: start pods", rt.label()));
  r.start_wall_s = ms_since(t0) / 1000;
  DH_CHECK(measure_memory(rt, o.pods, r));
  auto t1 = Clock::now();
  auto stopped = for_each_pod(o.pods, o.concurrency,
                              [&](int i) { return stop_pod(rt, pods[i], r.times[static_cast<size_t>(i)]); });
  if (!stopped) return tl::unexpected(stopped.error().context("{}: stop pods", rt.label()));
  r.teardown_wall_s = ms_since(t1) / 1000;
  return r;
}

}  // namespace deckhand::bench
