// deckhand-agent-bench: pod start through the whole node path (apiserver ->
// deckhand-agent -> CRI runtime -> watch), with deckhand-cri and with
// Debian's containerd under the same agent, in one run (see agent_usage() and
// README.md). Each round builds a fresh one-node cluster; rounds alternate
// between the runtimes so that a slow spell of the machine hits both.
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent_bench_cluster.h"
#include "bench_env.h"
#include "bench_options.h"
#include "bench_stats.h"
#include "deckhand/common/fs.h"

namespace deckhand::bench {

namespace {

struct Options {
  int pods = 30;
  int rounds = 3;
  std::vector<NodeRuntimeKind> runtimes = {NodeRuntimeKind::Deckhand, NodeRuntimeKind::Containerd};
  std::string build_dir;  // default: three levels above this program
  std::string keep_logs;
  std::string deckhand_log_level = "info";
  bool show_help = false;
};

const char* agent_usage() {
  return R"(Usage: deckhand-agent-bench [flags]   (as root)

For each round and runtime (deckhand-cri, then containerd+runc): starts a
private deckhand-apiserver, the runtime with deckhand.test/busybox:1.36 in it,
and deckhand-agent (default intervals) for one node; watches the pods, creates
N pods bound to the node at once (one busybox `sleep 3600` each), and times
each from just before its POST to the watch event showing it Running; reads
the agent's VmRSS/VmHWM; deletes the pods and takes everything down.
Prints per-round and overall figures side by side and the issue's targets.

Flags:
  --pods N                 pods created at once per round [30]
  --rounds N               rounds per runtime [3]
  --only R                 deckhand | containerd: measure one runtime
  --build-dir DIR          meson build dir [three levels above this program]
  --deckhand-log-level L   deckhand-cri's --log-level [info]
  --keep-logs DIR          copy every round's logs (apiserver, agent, runtime) to DIR
  -h, --help               this text
)";
}

Result<Options> parse_agent_options(int argc, char** argv) {
  Options o;
  auto flag_of = [&o](std::string_view flag, std::string_view v) -> Status {
    if (flag == "--pods") {
      DH_TRY(n, positive(flag, v));
      o.pods = n;
    } else if (flag == "--rounds") {
      DH_TRY(n, positive(flag, v));
      o.rounds = n;
    } else if (flag == "--only") {
      if (v != "deckhand" && v != "containerd")
        return fail(ErrorKind::InvalidArgument, "--only wants deckhand or containerd, got '{}'", v);
      o.runtimes = {v == "deckhand" ? NodeRuntimeKind::Deckhand : NodeRuntimeKind::Containerd};
    } else if (flag == "--build-dir") {
      o.build_dir = v;
    } else if (flag == "--deckhand-log-level") {
      o.deckhand_log_level = v;
    } else if (flag == "--keep-logs") {
      o.keep_logs = v;
    } else {
      return unknown_flag(flag);
    }
    return {};
  };
  DH_CHECK(parse_flags(argc, argv, o.show_help, flag_of));
  if (o.build_dir.empty() && !o.show_help) {
    DH_TRY(dir, build_dir_of_self());
    o.build_dir = dir;
  }
  return o;
}

std::string one_line(std::string s, size_t max = 2000) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

// ---- the report ----

double mib(uint64_t kib) { return double(kib) / 1024.0; }

struct Column {
  std::string label;
  std::vector<RoundResult> rounds;

  std::vector<double> all_samples() const {
    std::vector<double> v;
    for (auto& r : rounds) v.insert(v.end(), r.start_ms.begin(), r.start_ms.end());
    return v;
  }
  double start_quantile(double q) const { return quantile(all_samples(), q); }
  double worst(const std::function<double(const RoundResult&)>& f) const {
    double w = 0;
    for (auto& r : rounds) w = std::max(w, f(r));
    return w;
  }
  double median_of(const std::function<double(const RoundResult&)>& f) const {
    std::vector<double> v;
    for (auto& r : rounds) v.push_back(f(r));
    return quantile(v, 0.5);
  }
};

void print_round(const RoundResult& r) {
  auto q = [&](double p) { return quantile(r.start_ms, p); };
  std::printf("round %d %-13s create->Running median %7.1f ms  p90 %7.1f  p99 %7.1f  max %7.1f;"
              "  all Running in %5.2f s;  agent RSS %5.1f MiB (peak %5.1f), CPU %4.2f s;  all gone in %5.2f s\n",
              r.round, r.runtime.c_str(), q(0.5), q(0.9), q(0.99), q(1.0), r.all_running_s, mib(r.agent.rss_kib),
              mib(r.agent.peak_kib), r.agent_cpu_s, r.all_gone_s);
  for (auto& n : r.notes) std::printf("        note: %s\n", n.c_str());
}

constexpr int kLabelWidth = 46;
constexpr int kColumnWidth = 16;

// A row: the figure per column and containerd / deckhand-cri.
void print_row(const std::vector<Column>& cols, const std::string& label, const std::string& unit, int decimals,
               const std::function<double(const Column&)>& f) {
  std::string line = fmt::format("{:<{}}", label, kLabelWidth);
  for (auto& c : cols) line += fmt::format("{:>{}}", fmt::format("{:.{}f} {}", f(c), decimals, unit), kColumnWidth);
  if (cols.size() == 2 && f(cols[0]) > 0) line += fmt::format("{:>12.2f}", f(cols[1]) / f(cols[0]));
  std::puts(line.c_str());
}

void print_table(const std::vector<Column>& cols, int pods) {
  size_t rounds = cols.empty() ? 0 : cols[0].rounds.size();
  std::string head = fmt::format("{:<{}}", fmt::format("{} pods at once, {} round(s), pooled", pods, rounds), kLabelWidth);
  for (auto& c : cols) head += fmt::format("{:>{}}", c.label, kColumnWidth);
  if (cols.size() == 2) head += fmt::format("{:>12}", "ctrd/dh");
  std::puts(head.c_str());
  for (auto [name, q] : {std::pair{"median", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"max", 1.0}})
    print_row(cols, fmt::format("create -> Running (watch)  {}", name), "ms", 1,
              [qv = q](const Column& c) { return c.start_quantile(qv); });
  print_row(cols, "first create -> last Running, median round", "s", 2,
            [](const Column& c) { return c.median_of([](auto& r) { return r.all_running_s; }); });
  print_row(cols, "first create -> last Running, worst round", "s", 2,
            [](const Column& c) { return c.worst([](auto& r) { return r.all_running_s; }); });
  print_row(cols, "deletecollection -> last DELETED, median", "s", 2,
            [](const Column& c) { return c.median_of([](auto& r) { return r.all_gone_s; }); });
  print_row(cols, "agent CPU, first create -> all Running, median", "s", 2,
            [](const Column& c) { return c.median_of([](auto& r) { return r.agent_cpu_s; }); });
  print_row(cols, "agent VmRSS, all pods Running, worst round", "MiB", 1,
            [](const Column& c) { return c.worst([](auto& r) { return mib(r.agent.rss_kib); }); });
  print_row(cols, "agent PSS, all pods Running, worst round", "MiB", 1,
            [](const Column& c) { return c.worst([](auto& r) { return mib(r.agent_pss_kib); }); });
  print_row(cols, "agent VmHWM (peak), worst round", "MiB", 1,
            [](const Column& c) { return c.worst([](auto& r) { return mib(r.agent.peak_kib); }); });
}

const Column* find(const std::vector<Column>& cols, const std::string& label) {
  for (auto& c : cols)
    if (c.label == label && !c.rounds.empty()) return &c;
  return nullptr;
}

const char* met(bool ok) { return ok ? "MET" : "NOT MET"; }

// The issue's targets: p99 < 1 s on deckhand-cri; containerd at least 3x
// slower (median and p99); the agent's RSS < 30 MiB.
bool print_targets(const std::vector<Column>& cols) {
  const Column* dh = find(cols, "deckhand-cri");
  const Column* ctrd = find(cols, "containerd");
  if (!dh) {
    std::puts("targets: cannot be judged (no deckhand-cri round completed)");
    return false;
  }
  double p99 = dh->start_quantile(0.99);
  bool ok_p99 = p99 < 1000;
  std::printf("targets: create -> Running p99 on deckhand-cri < 1 s: %s (%.2f ms)\n", met(ok_p99), p99);
  bool ok_ratio = false;
  if (ctrd) {
    double r50 = ctrd->start_quantile(0.5) / dh->start_quantile(0.5);
    double r99 = ctrd->start_quantile(0.99) / p99;
    ok_ratio = r50 >= 3 && r99 >= 3;
    std::printf("         >= 3x faster than on containerd (median and p99): %s (median %.2fx, p99 %.2fx)\n",
                met(ok_ratio), r50, r99);
  } else {
    std::puts("         >= 3x faster than on containerd: cannot be judged (no containerd round completed)");
  }
  double rss = dh->worst([](auto& r) { return mib(r.agent.rss_kib); });
  double peak = dh->worst([](auto& r) { return mib(r.agent.peak_kib); });
  bool ok_rss = rss < 30;
  std::printf("         agent RSS < 30 MiB (VmRSS, all pods Running, on deckhand-cri): %s (%.1f MiB; peak %.1f MiB)\n",
              met(ok_rss), rss, peak);
  return ok_p99 && ok_ratio && ok_rss;
}

// ---- the run ----

std::string short_name(NodeRuntimeKind k) { return k == NodeRuntimeKind::Deckhand ? "dh" : "ctrd"; }

// Exit codes: 0 measured (targets met or not: see the table), 1 a round
// failed, 2 bad usage, 130 interrupted.
int run(const Options& o) {
  bool need_containerd =
      std::find(o.runtimes.begin(), o.runtimes.end(), NodeRuntimeKind::Containerd) != o.runtimes.end();
  auto inputs = find_inputs(o.build_dir, need_containerd);
  if (!inputs) {
    std::fprintf(stderr, "deckhand-agent-bench: %s\n", inputs.error().message.c_str());
    return 2;
  }
  inputs->deckhand_log_level = o.deckhand_log_level;
  // Declared first, removed last: the guards outlive the temp root and clusters.
  HostDirGuard host_dirs({"/run/containerd", "/run/containerd/s", "/var/lib/cni", "/var/lib/cni/results"});
  CgroupTree cgroups(fmt::format("/deckhand-agent-bench-{}", ::getpid()));
  auto root = TempRoot::create("deckhand-agent-bench");
  if (!root) {
    std::fprintf(stderr, "deckhand-agent-bench: %s\n", root.error().message.c_str());
    return 1;
  }
  if (auto st = mount_tmpfs(root->sub("volatile")); !st) {
    std::fprintf(stderr, "deckhand-agent-bench: %s\n", st.error().message.c_str());
    return 1;
  }
  std::vector<Column> cols;
  for (auto k : o.runtimes) cols.push_back({label_of(k), {}});
  std::vector<std::string> failures;
  for (int round = 1; round <= o.rounds && !stop_requested(); ++round) {
    for (size_t i = 0; i < o.runtimes.size() && !stop_requested(); ++i) {
      NodeRuntimeKind k = o.runtimes[i];
      std::string name = fmt::format("{}-r{}", short_name(k), round);
      RoundOptions ro{k, round, o.pods, root->sub(name), root->sub("volatile/" + name), cgroups.path() + "/" + name,
                      o.keep_logs};
      std::fprintf(stderr, "round %d, %s: starting a cluster, then %d pods\n", round, label_of(k), o.pods);
      Result<RoundResult> r;
      {
        CgroupTree round_cgroups(ro.cgroup_parent);
        r = run_round(*inputs, ro);
      }
      unmount_all_under(ro.dir);
      unmount_all_under(ro.volatile_dir);
      (void)fs::remove_all(ro.dir);
      (void)fs::remove_all(ro.volatile_dir);
      if (!r) {
        failures.push_back(fmt::format("FAILED: round {} {}: {}", round, label_of(k), one_line(r.error().message)));
        std::fprintf(stderr, "%s\n", failures.back().c_str());
        continue;
      }
      print_round(*r);
      std::fflush(stdout);
      cols[i].rounds.push_back(std::move(*r));
    }
  }
  if (stop_requested()) {
    std::fprintf(stderr, "deckhand-agent-bench: interrupted; cleaning up\n");
    return 130;
  }
  std::puts("");
  print_table(cols, o.pods);
  for (auto& f : failures) std::puts(f.c_str());
  print_targets(cols);
  return failures.empty() ? 0 : 1;
}

}  // namespace

}  // namespace deckhand::bench

int main(int argc, char** argv) {
  using namespace deckhand::bench;
  // Root: it starts container runtimes.
  return bench_main("deckhand-agent-bench", argc, argv, &parse_agent_options, agent_usage(), true, &run);
}
