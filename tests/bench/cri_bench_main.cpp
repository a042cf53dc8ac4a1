// deckhand-cri-bench: the benchmark of deckhand-cri against Debian's
// containerd (see bench_options.cpp for what it does and README.md for the
// figures). Runtimes are measured one after the other, each alone on the
// machine, so that neither's memory or CPU use colours the other's figures.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "bench_env.h"
#include "bench_options.h"
#include "bench_report.h"
#include "containerd_world.h"
#include "deckhand/common/fs.h"
#include "deckhand_world.h"

namespace deckhand::bench {

namespace {

struct Paths {
  std::string busybox_tar, pause_tar;
};

Result<Paths> check_inputs(const BenchOptions& o) {
  Paths p{o.build_dir + "/tests/fixtures/busybox-oci.tar", o.build_dir + "/tests/bench/pause-oci.tar"};
  std::vector<std::string> needed = {o.deckhand_cri, p.busybox_tar};
  if (o.containerd) needed.insert(needed.end(), {p.pause_tar, "/usr/bin/containerd", "/usr/bin/ctr"});
  for (auto& f : needed)
    if (!fs::exists(f))
      return fail(ErrorKind::NotFound, "{} is missing (build with `ninja -C <build> bench-cri`)", f);
  return p;
}

// The end of a daemon's log, for the reader of a failure: the temp root and
// the log in it are gone when we exit.
void print_log_tail(const std::string& path) {
  if (stop_requested()) return;  // interrupted: not the daemon's fault
  auto text = fs::read_file(path);
  if (!text) return;
  size_t at = text->size();
  for (int lines = 0; lines < 25 && at > 0; ++lines) at = text->rfind('\n', at - 1);
  std::fprintf(stderr, "--- end of %s ---\n%s\n---\n", path.c_str(),
               text->substr(at == std::string::npos ? 0 : at).c_str());
}

std::string one_line(std::string s, size_t max = 400) {
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

SequenceOptions sequence_options(const BenchOptions& o, const std::string& label) {
  SequenceOptions so;
  so.pods = o.pods;
  so.concurrency = o.concurrency;
  so.run_tag = fmt::format("{}-{}", ::getpid(), label);
  return so;
}

CniPlugins cni_plugins_of(const std::string& which, const BenchOptions& o) {
  return which == "deckhand" ? deckhand_cni_plugins(o.build_dir) : reference_cni_plugins();
}

Status run_deckhand(const BenchOptions& o, const Paths& p, const TempRoot& root, const std::string& cgroup,
                    Report& report) {
  DeckhandSetup s{o.deckhand_cri, root.sub("dh"),       root.sub("volatile/dh"),
                  cgroup,         o.deckhand_log_level, p.busybox_tar,
                  cni_plugins_of(o.deckhand_cni, o)};
  DH_CHECK(fs::make_dirs(s.dir));
  std::fprintf(stderr, "deckhand-cri: starting %s\n", s.binary.c_str());
  auto world = DeckhandWorld::start(s);
  if (!world) {
    print_log_tail(s.dir + "/deckhand-cri.log");
    return tl::unexpected(world.error().context("deckhand-cri"));
  }
  std::fprintf(stderr, "deckhand-cri: %d pods\n", o.pods);
  auto r = run_sequence(**world, sequence_options(o, "dh"));
  if (!r) {
    print_log_tail((*world)->daemon_log());
    return tl::unexpected(r.error());
  }
  report.columns.push_back(std::move(*r));
  return {};
}

void try_crun(const BenchOptions& o, ContainerdWorld& w, Report& report) {
  std::fprintf(stderr, "containerd+crun: %d pods\n", o.pods);
  auto view = w.with_handler("crun");
  auto r = run_sequence(*view, sequence_options(o, "crun"));
  if (r) {
    report.columns.push_back(std::move(*r));
  } else {
    report.notes.push_back(fmt::format("containerd+crun: skipped ({})", one_line(r.error().message)));
  }
}

Status run_containerd(const BenchOptions& o, const Paths& p, const TempRoot& root, const std::string& cgroup,
                      Report& report) {
  ContainerdSetup s{root.sub("ctrd"), root.sub("volatile/ctrd"), cgroup, p.busybox_tar, p.pause_tar,
                    cni_plugins_of(o.containerd_cni, o)};
  DH_CHECK(fs::make_dirs(s.dir));
  std::fprintf(stderr, "containerd: starting\n");
  auto world = ContainerdWorld::start(s);
  if (!world) {
    print_log_tail(s.dir + "/containerd.log");
    return tl::unexpected(world.error().context("containerd"));
  }
  std::fprintf(stderr, "containerd+runc: %d pods\n", o.pods);
  auto view = (*world)->with_handler("runc");
  auto r = run_sequence(*view, sequence_options(o, "runc"));
  if (!r) {
    print_log_tail((*world)->log());
    return tl::unexpected(r.error());
  }
  report.columns.push_back(std::move(*r));
  if (o.crun && !stop_requested()) try_crun(o, **world, report);
  if (!o.crun) report.notes.push_back("containerd+crun: skipped (--no-crun)");
  report.notes.push_back(fmt::format("CNI plugins (bridge + host-local): deckhand-cri {}, containerd {}",
                                     o.deckhand_cni, o.containerd_cni));
  return {};
}

void keep_logs(const BenchOptions& o, const TempRoot& root) {
  if (o.keep_logs.empty()) return;
  keep_copy(root.sub("dh/deckhand-cri.log"), o.keep_logs, "deckhand-cri.log");
  if (o.containerd) keep_copy(root.sub("ctrd/containerd.log"), o.keep_logs, "containerd.log");
}

// Exit codes: 0 measured (targets met or not: see the table), 1 a runtime
// failed, 2 bad usage, 130 interrupted.
int run(const BenchOptions& o) {
  auto paths = check_inputs(o);
  if (!paths) {
    std::fprintf(stderr, "deckhand-cri-bench: %s\n", paths.error().message.c_str());
    return 2;
  }
  // Declared first, removed last: the guards outlive the temp root and worlds.
  HostDirGuard host_dirs({"/run/containerd", "/run/containerd/s", "/var/lib/cni", "/var/lib/cni/results"});
  CgroupTree cgroups(fmt::format("/deckhand-bench-{}", ::getpid()));
  auto root = TempRoot::create("deckhand-bench");
  if (!root) {
    std::fprintf(stderr, "deckhand-cri-bench: %s\n", root.error().message.c_str());
    return 1;
  }
  if (auto st = mount_tmpfs(root->sub("volatile")); !st) {
    std::fprintf(stderr, "deckhand-cri-bench: %s\n", st.error().message.c_str());
    return 1;
  }
  Report report;
  report.pods = o.pods;
  report.concurrency = o.concurrency;
  bool failed = false;
  auto note_failure = [&](const Status& st) {
    if (st) return;
    failed = true;
    report.notes.push_back("FAILED: " + one_line(st.error().message, 2000));
  };
  // Each runtime starts on a machine that has finished tearing down what ran before.
  auto settle = [&] {
    if (!wait_for_quiet_machine(std::chrono::seconds(60)))
      report.notes.push_back("note: the machine did not go quiet before a runtime's run");
  };
  settle();
  note_failure(run_deckhand(o, *paths, *root, cgroups.path(), report));
  if (o.containerd && !stop_requested()) {
    settle();
    note_failure(run_containerd(o, *paths, *root, cgroups.path(), report));
  }
  keep_logs(o, *root);
  if (stop_requested()) {
    std::fprintf(stderr, "deckhand-cri-bench: interrupted; cleaning up\n");
    return 130;
  }
  print_report(report);
  return failed ? 1 : 0;
}

}  // namespace

}  // namespace deckhand::bench

int main(int argc, char** argv) {
  using namespace deckhand::bench;
  // Before anything starts a thread (gRPC does), so that every thread blocks them.
  block_stop_signals();
  auto o = parse_options(argc, argv);
  if (!o) {
    std::fprintf(stderr, "deckhand-cri-bench: %s\n", o.error().message.c_str());
    return 2;
  }
  if (o->show_help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "deckhand-cri-bench: run as root (it starts container runtimes)\n");
    return 2;
  }
  return run(*o);
}
