#include "bench_options.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace deckhand::bench {

Result<int> positive(std::string_view flag, std::string_view v) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1)
    return fail(ErrorKind::InvalidArgument, "{} wants a positive number, got '{}'", flag, v);
  return n;
}

Status parse_flags(int argc, char** argv, bool& show_help, const FlagFn& on_flag,
                   std::initializer_list<std::string_view> bare) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      show_help = true;
      continue;
    }
    if (std::find(bare.begin(), bare.end(), flag) != bare.end()) {
      DH_CHECK(on_flag(flag, {}));
      continue;
    }
    if (i + 1 >= argc) return fail(ErrorKind::InvalidArgument, "{} wants a value (see --help)", flag);
    DH_CHECK(on_flag(flag, argv[++i]));
  }
  return {};
}

Status unknown_flag(std::string_view flag) {
  return fail(ErrorKind::InvalidArgument, "unknown flag {} (see --help)", flag);
}

Result<std::string> build_dir_of_self() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) return sys_fail("readlink /proc/self/exe");
  std::string p(buf, static_cast<size_t>(n));
  for (int i = 0; i < 3; ++i) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0)
      return fail(ErrorKind::InvalidArgument, "cannot tell the build dir from {}: give --build-dir", buf);
    p.resize(slash);
  }
  return p;
}

namespace {

Status fill_defaults(BenchOptions& o) {
  if (o.build_dir.empty()) {
    DH_TRY(dir, build_dir_of_self());
    o.build_dir = dir;
  }
  if (o.deckhand_cri.empty()) o.deckhand_cri = o.build_dir + "/cri/server/deckhand-cri";
  return {};
}

}  // namespace

Result<BenchOptions> parse_options(int argc, char** argv) {
  BenchOptions o;
  auto flag_of = [&o](std::string_view flag, std::string_view v) -> Status {
    if (flag == "--no-containerd") {
      o.containerd = false;
    } else if (flag == "--no-crun") {
      o.crun = false;
    } else if (flag == "--pods") {
      DH_TRY(n, positive(flag, v));
      o.pods = n;
    } else if (flag == "--concurrency") {
      DH_TRY(n, positive(flag, v));
      o.concurrency = n;
    } else if (flag == "--build-dir") {
      o.build_dir = v;
    } else if (flag == "--deckhand-cri") {
      o.deckhand_cri = v;
    } else if (flag == "--deckhand-log-level") {
      o.deckhand_log_level = v;
    } else if (flag == "--keep-logs") {
      o.keep_logs = v;
    } else if (flag == "--deckhand-cni" || flag == "--containerd-cni") {
      if (v != "deckhand" && v != "reference")
        return fail(ErrorKind::InvalidArgument, "{} wants deckhand or reference, got '{}'", flag, v);
      (flag == "--deckhand-cni" ? o.deckhand_cni : o.containerd_cni) = v;
    } else {
      return unknown_flag(flag);
    }
    return {};
  };
  DH_CHECK(parse_flags(argc, argv, o.show_help, flag_of, {"--no-containerd", "--no-crun"}));
  DH_CHECK(fill_defaults(o));
  return o;
}

const char* usage() {
  return R"(Usage: deckhand-cri-bench [flags]   (as root)

Starts deckhand-cri and Debian's containerd (CRI plugin; runc, and crun where
the host allows it) in a private temporary root, runs the same pods through
the same CRI client against each, one busybox `sleep 3600` container per pod,
and prints latencies (median, p90, p99) and per-pod memory (PSS and RSS) side
by side. Everything it made is removed at the end, also on Ctrl-C/SIGTERM.

Flags:
  --pods N                 pods per runtime [50]
  --concurrency K          pods started and stopped at once [1: serially]
  --build-dir DIR          meson build dir [three levels above this program]
  --deckhand-cri PATH      deckhand-cri [<build>/cri/server/deckhand-cri]
  --deckhand-log-level L   deckhand-cri's --log-level [info]
  --keep-logs DIR          copy the daemons' logs to DIR before cleaning up
  --deckhand-cni P         CNI plugins under deckhand-cri: deckhand (ours, from the
                           build dir) or reference (/usr/lib/cni) [deckhand]
  --containerd-cni P       the same under containerd [reference]
  --no-containerd          measure deckhand-cri alone
  --no-crun                do not try containerd with crun
  -h, --help               this text
)";
}

}  // namespace deckhand::bench
