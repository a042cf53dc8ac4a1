#include "deckhand/cri_server/config.h"

#include <cstring>


#include "deckhand/common/fs.h"
#include "deckhand/common/toml_config.h"
#include "deckhand/common/text.h"

namespace deckhand::cri {

const char* usage() {
  return R"(Usage: deckhand-cri [flags]

Serves the Kubernetes CRI (runtime.v1) on a unix socket; use it with crictl,
deckhandctl or any kubelet-style client.

Flags (override the config file; defaults in brackets):
  --config FILE            TOML config file [/etc/deckhand/cri.toml]
  --socket PATH            CRI socket, created 0660 [/run/deckhand/cri.sock]
  --state-dir DIR          persistent state [/var/lib/deckhand/cri]
  --run-dir DIR            volatile state [/run/deckhand/cri]
  --runtime PATH           OCI runtime: deckhand-oci, runc or crun
                           [deckhand-oci beside deckhand-cri, else runc]
  --pause-binary PATH      deckhand-pause [beside deckhand-cri]
  --monitor-binary PATH    deckhand-monitor [beside deckhand-cri]
  --cgroup-root DIR        cgroup mount root [/sys/fs/cgroup]
  --cgroup-parent PATH     cgroup for pods that name none [/deckhand]
  --cni-conf-dir DIR       CNI network configs [/etc/cni/net.d]
  --cni-bin-dir DIRS       CNI plugin dirs, ':'-separated [/opt/cni/bin:/usr/lib/cni]
  --cni-cache-dir DIR      kept CNI results [<state-dir>/cni-results]
  --kill-grace-ms N        wait for a killed container's exit [10000]
  --log-level LEVEL        trace|debug|info|warn|error|off [warn]
  -h, --help               this text

Config file keys: socket, state_dir, run_dir, runtime, pause_binary,
monitor_binary, cgroup_root, cgroup_parent, log_level, kill_grace_ms;
[cni] conf_dir, bin_dirs (array), cache_dir; [registry.hosts."HOST"] mirrors,
insecure, ca_file, username, password.
)";
}


Status apply_toml(const std::string& text, const std::string& origin, CriConfig& c) {
  DH_TRY(t, parse_toml(text, origin));
  DH_CHECK(read_toml_string(t, "socket", c.socket, origin));
  DH_CHECK(read_toml_string(t, "state_dir", c.state_dir, origin));
  DH_CHECK(read_toml_string(t, "run_dir", c.run_dir, origin));
  DH_CHECK(read_toml_string(t, "runtime", c.runtime_binary, origin));
  DH_CHECK(read_toml_string(t, "pause_binary", c.pause_binary, origin));
  DH_CHECK(read_toml_string(t, "monitor_binary", c.monitor_binary, origin));
  DH_CHECK(read_toml_string(t, "cgroup_root", c.cgroup_root, origin));
  DH_CHECK(read_toml_string(t, "cgroup_parent", c.default_cgroup_parent, origin));
  DH_CHECK(read_toml_string(t, "log_level", c.log_level, origin));
  if (auto g = t["kill_grace_ms"]) {
    auto v = g.value<int64_t>();
    if (!v || *v < 0) return fail(ErrorKind::InvalidArgument, "{}: kill_grace_ms must be a non-negative integer", origin);
    c.kill_grace = std::chrono::milliseconds(*v);
  }
  if (auto cni = t["cni"].as_table()) {
    DH_CHECK(read_toml_string(*cni, "conf_dir", c.cni.conf_dir, origin));
    DH_CHECK(read_toml_string(*cni, "cache_dir", c.cni.cache_dir, origin));
    if (auto dirs = (*cni)["bin_dirs"].as_array()) {
      c.cni.bin_dirs.clear();
      for (auto& d : *dirs) {
        auto v = d.value<std::string>();
        if (!v) return fail(ErrorKind::InvalidArgument, "{}: cni.bin_dirs must hold strings", origin);
        c.cni.bin_dirs.push_back(*v);
      }
    }
  }
  if (t["registry"]) {
    DH_TRY(reg, images::parse_registry_config(text));
    c.registry = std::move(reg);
  }
  return {};
}

Result<CriConfig> load_config(int argc, char** argv) {
  CriConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  DH_TRY(text, read_config_file(args, c.config_file));
  if (text) DH_CHECK(apply_toml(*text, c.config_file, c));
  bool cache_dir_set = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      c.show_help = true;
      continue;
    }
    if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "unknown flag or missing value: {}", a);
    const std::string& v = args[++i];
    if (a == "--config") continue;
    else if (a == "--socket") c.socket = v;
    else if (a == "--state-dir") c.state_dir = v;
    else if (a == "--run-dir") c.run_dir = v;
    else if (a == "--runtime") c.runtime_binary = v;
    else if (a == "--pause-binary") c.pause_binary = v;
    else if (a == "--monitor-binary") c.monitor_binary = v;
    else if (a == "--cgroup-root") c.cgroup_root = v;
    else if (a == "--cgroup-parent") c.default_cgroup_parent = v;
    else if (a == "--cni-conf-dir") c.cni.conf_dir = v;
    else if (a == "--cni-bin-dir") c.cni.bin_dirs = split_nonempty(v, ':');
    else if (a == "--cni-cache-dir") {
      c.cni.cache_dir = v;
      cache_dir_set = true;
    } else if (a == "--kill-grace-ms") {
      char* end = nullptr;
      long ms = std::strtol(v.c_str(), &end, 10);
      if (!end || *end || ms < 0) return fail(ErrorKind::InvalidArgument, "--kill-grace-ms: not a number: {}", v);
      c.kill_grace = std::chrono::milliseconds(ms);
    } else if (a == "--log-level") c.log_level = v;
    else return fail(ErrorKind::InvalidArgument, "unknown flag: {}", a);
  }
  // The CNI cache follows the state dir unless set on its own.
  if (!cache_dir_set && c.cni.cache_dir == cni::InvokerConfig{}.cache_dir)
    c.cni.cache_dir = fs::join(c.state_dir, "cni-results");
  return c;
}

}  // namespace deckhand::cri
