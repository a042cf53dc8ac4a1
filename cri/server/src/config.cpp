#include "deckhand/cri_server/config.h"

#include "deckhand/common/daemon_settings.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"
#include "deckhand/common/toml_config.h"

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

Config file keys: the flag names with '_' for '-' (socket, state_dir,
run_dir, runtime, pause_binary, monitor_binary, cgroup_root, cgroup_parent,
kill_grace_ms, log_level); [cni] conf_dir, bin_dirs (an array), cache_dir;
[registry.hosts."HOST"] mirrors, insecure, ca_file, username, password.
)";
}


namespace {

// [cni] in the file: conf_dir, bin_dirs (an array), cache_dir.
Status read_cni_table(CriConfig& c, const toml::table& t, const std::string& origin) {
  DH_CHECK(read_toml_string(t, "conf_dir", c.cni.conf_dir, origin));
  DH_CHECK(read_toml_string(t, "cache_dir", c.cni.cache_dir, origin));
  if (auto dirs = t["bin_dirs"]) {
    auto array = dirs.as_array();
    if (!array) return fail(ErrorKind::InvalidArgument, "{}: cni.bin_dirs must be an array of strings", origin);
    c.cni.bin_dirs.clear();
    for (auto& d : *array) {
      auto v = d.value_exact<std::string>();
      if (!v) return fail(ErrorKind::InvalidArgument, "{}: cni.bin_dirs must hold strings", origin);
      c.cni.bin_dirs.push_back(*v);
    }
  }
  return {};
}

}  // namespace

Result<CriConfig> load_config(int argc, char** argv) {
  CriConfig c;
  bool cache_dir_set = false;
  DaemonSettings settings;
  settings.text("socket", c.socket)
      .text("state-dir", c.state_dir)
      .text("run-dir", c.run_dir)
      .text("runtime", c.runtime_binary)
      .text("pause-binary", c.pause_binary)
      .text("monitor-binary", c.monitor_binary)
      .text("cgroup-root", c.cgroup_root)
      .text("cgroup-parent", c.default_cgroup_parent)
      .text("cni-conf-dir", c.cni.conf_dir)
      .parsed("cni-bin-dir",
              [&c](const std::string& v) -> Status {
                c.cni.bin_dirs = split_nonempty(v, ':');
                return {};
              })
      .parsed("cni-cache-dir",
              [&](const std::string& v) -> Status {
                c.cni.cache_dir = v;
                cache_dir_set = true;
                return {};
              })
      .milliseconds("kill-grace-ms", 0, c.kill_grace)
      .text("log-level", c.log_level)
      .table("cni", [&c](const toml::table& t, const std::string& origin) { return read_cni_table(c, t, origin); })
      .table("registry", [&c](const toml::table& t, const std::string& origin) -> Status {
        DH_TRY(registry, with_context(images::registry_config_from_table(t), "{}", origin));
        c.registry = std::move(registry);
        return {};
      });
  DH_CHECK(settings.load({argv + 1, argv + argc}, c.config_file, c.show_help));
  // The CNI cache follows the state dir unless set on its own.
  if (!cache_dir_set && c.cni.cache_dir == cni::InvokerConfig{}.cache_dir)
    c.cni.cache_dir = fs::join(c.state_dir, "cni-results");
  return c;
}

}  // namespace deckhand::cri
