// deckhand-cni-bench: ADD then DEL of a bridge + host-local + loopback chain
// for many network namespaces, through our CNI invoker, with our plugins and
// with Debian's reference plugins (/usr/lib/cni) under identical configs in
// the same run. Prints median/p90/p99 per ADD and per DEL and the peak RSS of
// one plugin process, and judges the target: our ADD median at most
// one fifth of the reference plugins'.
//
// Each plugin set gets its own bridge and /24 with no uplink, no default
// route and no masquerading, so nothing leaves the machine. Runs as root.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_env.h"
#include "bench_stats.h"
#include "deckhand/cni/invoker.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::bench;
using Clock = std::chrono::steady_clock;

namespace {

const char* kUsage =
    "usage: deckhand-cni-bench [--namespaces N] [--build-dir DIR]\n"
    "  ADD then DEL of bridge+host-local+loopback for N network namespaces (default 200),\n"
    "  with deckhand's plugins and Debian's reference plugins, interleaved. Needs root.\n";

struct Options {
  int namespaces = 200;
  std::string build_dir;
};

Result<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return fail(ErrorKind::InvalidArgument, "{} needs a value", a);
      return std::string(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--namespaces") {
      DH_TRY(v, value());
      o.namespaces = std::atoi(v.c_str());
      if (o.namespaces < 1 || o.namespaces > 250)
        return fail(ErrorKind::InvalidArgument, "--namespaces must be 1..250 (one /24 per plugin set)");
    } else if (a == "--build-dir") {
      DH_TRY(v, value());
      o.build_dir = v;
    } else {
      return fail(ErrorKind::InvalidArgument, "unknown argument {}", a);
    }
  }
  if (o.build_dir.empty()) {
    // This program is <build>/tests/bench/deckhand-cni-bench.
    char buf[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string exe(buf, n > 0 ? size_t(n) : 0);
    for (int up = 0; up < 3; ++up) exe = exe.substr(0, exe.rfind('/'));
    o.build_dir = exe;
  }
  return o;
}

// Named network namespaces made with `ip netns add`, deleted on destruction.
class NamedNetns {
 public:
  ~NamedNetns() {
    for (auto& n : names_) (void)run_checked({"ip", "netns", "del", n}, std::chrono::seconds(10));
  }
  Result<std::string> add(const std::string& name) {
    DH_TRY(out, run_checked({"ip", "netns", "add", name}, std::chrono::seconds(10)));
    (void)out;
    names_.push_back(name);
    return "/run/netns/" + name;
  }

 private:
  std::vector<std::string> names_;
};

struct PluginSet {
  std::string label;
  std::string bridge_type, ipam_type, loopback_type;
  std::vector<std::string> bin_dirs;
  std::string bridge, subnet_prefix;
  std::unique_ptr<cni::CniInvoker> invoker;
  std::vector<double> add_ms, del_ms;
  long peak_rss_kib = 0;
};

Status write_config(PluginSet& s, const std::string& root) {
  std::string dir = fs::join(root, s.label);
  for (auto d : {"conf", "cache", "ipam"}) DH_CHECK(fs::make_dirs(fs::join(dir, d)));
  Json bridge = {{"type", s.bridge_type},
                 {"bridge", s.bridge},
                 {"isGateway", true},
                 {"ipMasq", false},
                 {"ipam",
                  {{"type", s.ipam_type},
                   {"ranges", Json::array({Json::array({{{"subnet", s.subnet_prefix + "0/24"}}})})},
                   {"dataDir", fs::join(dir, "ipam")}}}};
  Json list = {{"cniVersion", "1.0.0"},
               {"name", "bench-" + s.label},
               {"plugins", Json::array({bridge, Json{{"type", s.loopback_type}}})}};
  DH_CHECK(fs::write_file_atomic(fs::join(dir, "conf/10-bench.conflist"), list.dump(2)));
  cni::InvokerConfig c;
  c.conf_dir = fs::join(dir, "conf");
  c.cache_dir = fs::join(dir, "cache");
  c.bin_dirs = s.bin_dirs;
  c.plugin_timeout = std::chrono::seconds(30);
  s.invoker = std::make_unique<cni::CniInvoker>(c);
  return s.invoker->validate();
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

cni::Attachment attachment(int i, const std::string& netns) {
  cni::Attachment a;
  a.container_id = fmt::format("bench{:06d}{:08x}", i, unsigned(::getpid()));
  a.netns_path = netns;
  a.pod_name = fmt::format("pod-{}", i);
  a.pod_namespace = "bench";
  a.pod_uid = fmt::format("uid-{}", i);
  return a;
}

// The largest RSS of any plugin process in one ADD+DEL, measured in a child
// so that only that call's plugins count (RUSAGE_CHILDREN of the child).
long peak_plugin_rss(PluginSet& s, const std::string& netns) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto a = attachment(999999, netns);
    bool ok = s.invoker->add(a) && s.invoker->del(a);
    struct rusage ru {};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    long v = ok ? ru.ru_maxrss : -1;
    (void)!::write(fds[1], &v, sizeof v);
    ::_exit(0);
  }
  ::close(fds[1]);
  long v = -1;
  if (pid > 0) {
    (void)!::read(fds[0], &v, sizeof v);
    ::waitpid(pid, nullptr, 0);
  }
  ::close(fds[0]);
  return v;
}

Status run(const Options& o) {
  DH_TRY(root, TempRoot::create("deckhand-cni-bench"));
  std::string tag = fmt::format("{:x}", unsigned(::getpid()) & 0xffff);
  std::vector<PluginSet> sets(2);
  sets[0] = PluginSet{"deckhand", "deckhand-bridge", "deckhand-host-local", "deckhand-loopback",
                      {fs::join(o.build_dir, "cni-plugins/bridge"), fs::join(o.build_dir, "cni-plugins/host-local"),
                       fs::join(o.build_dir, "cni-plugins/loopback")},
                      "dhbd" + tag, "10.251.1."};
  sets[1] = PluginSet{"reference", "bridge", "host-local", "loopback", {"/usr/lib/cni"}, "dhbr" + tag, "10.251.2."};
  struct LinkGuard {
    std::vector<std::string> names;
    ~LinkGuard() {
      for (auto& n : names) delete_link(n);
    }
  } links{{sets[0].bridge, sets[1].bridge}};
  for (auto& s : sets) DH_CHECK(with_context(write_config(s, root.path()), "plugin set {}", s.label));

  NamedNetns netns;
  std::vector<std::vector<std::string>> paths(sets.size());
  for (size_t k = 0; k < sets.size(); ++k)
    for (int i = 0; i < o.namespaces + 1; ++i) {
      DH_TRY(p, netns.add(fmt::format("dhb{}-{}-{}", tag, k, i)));
      paths[k].push_back(p);
    }
  if (!wait_for_quiet_machine(std::chrono::seconds(60)))
    std::printf("note: the machine did not go quiet before the run\n");
  std::printf("deckhand-cni-bench: %d namespaces per plugin set, interleaved\n", o.namespaces);
  // Interleaved, so that both sets see the same machine load.
  for (int i = 0; i < o.namespaces; ++i)
    for (size_t k = 0; k < sets.size(); ++k) {
      DH_CHECK(check_not_stopped());
      auto t0 = Clock::now();
      DH_TRY(added, with_context(sets[k].invoker->add(attachment(i, paths[k][i])), "{} ADD", sets[k].label));
      (void)added;
      sets[k].add_ms.push_back(ms_since(t0));
    }
  for (int i = 0; i < o.namespaces; ++i)
    for (size_t k = 0; k < sets.size(); ++k) {
      DH_CHECK(check_not_stopped());
      auto t0 = Clock::now();
      DH_CHECK(with_context(sets[k].invoker->del(attachment(i, paths[k][i])), "{} DEL", sets[k].label));
      sets[k].del_ms.push_back(ms_since(t0));
    }
  for (size_t k = 0; k < sets.size(); ++k) sets[k].peak_rss_kib = peak_plugin_rss(sets[k], paths[k].back());

  std::printf("\n%-34s%16s%16s\n", "", "deckhand", "reference");
  auto row = [&](const char* what, const char* name, double q, bool add) {
    std::printf("%-20s%-14s%13.2f ms%13.2f ms\n", what, name, quantile(add ? sets[0].add_ms : sets[0].del_ms, q),
                quantile(add ? sets[1].add_ms : sets[1].del_ms, q));
  };
  for (bool add : {true, false}) {
    const char* what = add ? "ADD (whole chain)" : "DEL (whole chain)";
    row(what, "median", 0.5, add);
    row(what, "p90", 0.9, add);
    row(what, "p99", 0.99, add);
  }
  std::printf("%-34s%13.1f MiB%12.1f MiB\n", "peak RSS of one plugin process", sets[0].peak_rss_kib / 1024.0,
              sets[1].peak_rss_kib / 1024.0);
  double ratio = quantile(sets[0].add_ms, 0.5) / std::max(1e-9, quantile(sets[1].add_ms, 0.5));
  bool met = ratio <= 0.2;
  std::printf("\nADD median ratio deckhand/reference: %.3f (target <= 0.200): %s\n", ratio, met ? "MET" : "NOT MET");
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  block_stop_signals();
  auto o = parse(argc, argv);
  if (!o) {
    std::fprintf(stderr, "deckhand-cni-bench: %s\n%s", o.error().message.c_str(), kUsage);
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "deckhand-cni-bench: needs root (it makes namespaces, bridges and veths)\n");
    return 2;
  }
  auto st = run(*o);
  if (!st) {
    std::fprintf(stderr, "deckhand-cni-bench: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
