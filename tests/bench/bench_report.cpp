#include "bench_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

namespace deckhand::bench {

namespace {

constexpr int kLabelWidth = 44;
constexpr int kColumnWidth = 18;

double quantile_of(const SequenceResult& s, double q, const std::function<double(const PodTimes&)>& f) {
  std::vector<double> v;
  for (auto& t : s.times) v.push_back(f(t));
  return quantile(std::move(v), q);
}

double mib(uint64_t kib) { return static_cast<double>(kib) / 1024.0; }

// Per pod, in the two views of the issue.
double per_pod_view(const SequenceResult& s, bool with_daemon, bool pss) {
  MemoryUse m = s.per_pod_processes;
  if (with_daemon) m += s.daemon;
  return mib(pss ? m.pss_kib : m.rss_kib) / std::max(1, s.pods);
}

double total_view(const SequenceResult& s, bool pss) {
  MemoryUse m = s.per_pod_processes;
  m += s.daemon;
  return mib(pss ? m.pss_kib : m.rss_kib);
}

const SequenceResult* find(const Report& r, const std::string& label) {
  for (auto& c : r.columns)
    if (c.label == label) return &c;
  return nullptr;
}

void print_header(const Report& r) {
  std::string mode = r.concurrency == 1 ? "serial" : fmt::format("{} at once", r.concurrency);
  std::string line = fmt::format("{:<{}}", fmt::format("N={} pods ({})", r.pods, mode), kLabelWidth);
  for (auto& c : r.columns) line += fmt::format("{:>{}}", c.label, kColumnWidth);
  line += fmt::format("{:>10}", "ratio");
  std::puts(line.c_str());
}

// One row: a figure per column, and deckhand-cri / containerd+runc.
void print_row(const Report& r, const std::string& label, const std::string& unit,
               const std::function<double(const SequenceResult&)>& f, int decimals = 1) {
  std::string line = fmt::format("{:<{}}", label, kLabelWidth);
  for (auto& c : r.columns)
    line += fmt::format("{:>{}}", fmt::format("{:.{}f} {}", f(c), decimals, unit), kColumnWidth);
  const SequenceResult* dh = find(r, "deckhand-cri");
  const SequenceResult* ref = find(r, "containerd+runc");
  if (dh && ref && f(*ref) > 0) line += fmt::format("{:>10.3f}", f(*dh) / f(*ref));
  std::puts(line.c_str());
}

void print_latency(const Report& r, const std::string& what,
                   const std::function<double(const PodTimes&)>& f) {
  for (auto [name, q] : {std::pair{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}})
    print_row(r, fmt::format("{:<38}{}", what, name), "ms", [&](auto& s) { return quantile_of(s, q, f); });
}

void print_latencies(const Report& r) {
  print_latency(r, "RunPodSandbox", [](auto& t) { return t.sandbox_ms; });
  print_latency(r, "CreateContainer+StartContainer", [](auto& t) { return t.container_ms; });
  print_latency(r, "pod start (sandbox+container)", [](auto& t) { return t.sandbox_ms + t.container_ms; });
  print_latency(r, "StopContainer+RemoveContainer", [](auto& t) { return t.container_down_ms; });
  print_latency(r, "StopPodSandbox+RemovePodSandbox", [](auto& t) { return t.sandbox_down_ms; });
  print_latency(r, "Stop+Remove of both", [](auto& t) { return t.container_down_ms + t.sandbox_down_ms; });
  print_row(
      r, "wall time, all pods started", "s", [](auto& s) { return s.start_wall_s; }, 2);
  print_row(
      r, "wall time, all pods removed", "s", [](auto& s) { return s.teardown_wall_s; }, 2);
}

void print_memory(const Report& r) {
  for (bool pss : {true, false}) {
    const char* kind = pss ? "PSS" : "RSS";
    print_row(
        r, fmt::format("memory per pod, per-pod processes, {}", kind), "MiB",
        [&](auto& s) { return per_pod_view(s, false, pss); }, 2);
    print_row(
        r, fmt::format("memory per pod, incl. daemon, {}", kind), "MiB",
        [&](auto& s) { return per_pod_view(s, true, pss); }, 2);
    print_row(
        r, fmt::format("memory total, incl. daemon, {}", kind), "MiB",
        [&](auto& s) { return total_view(s, pss); }, 1);
    print_row(
        r, fmt::format("memory of the daemon alone, {}", kind), "MiB",
        [&](auto& s) { return mib(pss ? s.daemon.pss_kib : s.daemon.rss_kib); }, 1);
  }
  print_row(
      r, "per-pod processes counted", "", [](auto& s) { return double(s.per_pod_processes.processes); }, 0);
}

std::string verdict(bool met, double ratio, const char* limit) {
  return fmt::format("{} (ratio {:.3f}, limit {})", met ? "MET" : "NOT MET", ratio, limit);
}

bool print_targets(const Report& r) {
  const SequenceResult* dh = find(r, "deckhand-cri");
  const SequenceResult* ref = find(r, "containerd+runc");
  if (!dh || !ref) {
    std::puts("targets: cannot be judged (deckhand-cri or containerd+runc did not run)");
    return false;
  }
  auto start = [](auto& s) {
    return quantile_of(s, 0.5, [](auto& t) { return t.sandbox_ms + t.container_ms; });
  };
  double start_ratio = start(*dh) / start(*ref);
  double mem_pods = per_pod_view(*dh, false, true) / per_pod_view(*ref, false, true);
  double mem_all = per_pod_view(*dh, true, true) / per_pod_view(*ref, true, true);
  bool ok_start = start_ratio <= 1.0 / 3, ok_pods = mem_pods <= 0.2, ok_all = mem_all <= 0.2;
  std::printf("targets: pod start median <= 1/3 of containerd+runc: %s\n",
              verdict(ok_start, start_ratio, "0.333").c_str());
  std::printf("         memory per pod <= 1/5, per-pod processes (PSS): %s\n",
              verdict(ok_pods, mem_pods, "0.200").c_str());
  std::printf("         memory per pod <= 1/5, incl. daemon (PSS): %s\n",
              verdict(ok_all, mem_all, "0.200").c_str());
  std::printf("         memory per pod <= 1/5 (both views): %s\n", ok_pods && ok_all ? "MET" : "NOT MET");
  return ok_start && ok_pods && ok_all;
}

}  // namespace

bool print_report(const Report& r) {
  std::puts("");
  print_header(r);
  print_latencies(r);
  print_memory(r);
  for (auto& n : r.notes) std::puts(n.c_str());
  return print_targets(r);
}

}  // namespace deckhand::bench
