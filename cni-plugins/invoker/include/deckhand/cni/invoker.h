// Runs CNI plugins for a runtime (CNI spec 1.0.0; configs of 0.3.x, 0.4.0,
// 1.0.0 and 1.1.0 accepted): loads the network config list from the conf
// dir, runs ADD through the plugin chain with prevResult, keeps each result on
// disk, and runs DEL from the kept result, also after a restart.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::cni {

struct InvokerConfig {
  std::string conf_dir = "/etc/cni/net.d";
  std::vector<std::string> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string cache_dir = "/var/lib/deckhand/cri/cni-results";
  std::chrono::milliseconds plugin_timeout{60000};
};

// One pod's attachment to the network.
struct Attachment {
  std::string container_id;  // the sandbox id
  std::string netns_path;    // the pinned netns; may be gone on DEL
  std::string ifname = "eth0";
  std::string pod_name, pod_namespace, pod_uid;
  // Capability arguments (e.g. "portMappings", "bandwidth"), passed as
  // runtimeConfig to the plugins that declare the capability, and kept for DEL.
  Json capability_args = Json::object();
};

struct AddResult {
  Json result;                   // the final plugin's result (cniVersion of the conf list)
  std::vector<std::string> ips;  // addresses without prefix length, IPv4 first
};

// Stateless between calls apart from the result files: the config is read
// again on each call (it may appear after start), so calls for different
// attachments may run concurrently.
class CniInvoker {
 public:
  explicit CniInvoker(InvokerConfig config);

  // ADD through every plugin of the list. When a plugin fails, DEL runs
  // through the whole list, as containerd does (so no veth or lease is left),
  // and the error names the plugin and carries its CNI error message.
  Result<AddResult> add(const Attachment& a);
  // DEL with the kept result; succeeds when the netns or the container is gone
  // already, and when there is nothing to delete. Removes the kept result.
  Status del(const Attachment& a);
  // CHECK with the kept result (cniVersion 0.4.0 and later; Unimplemented
  // before). NotFound when no result is kept for the attachment.
  Status check(const Attachment& a);
  // Whether a usable network config exists (for the CRI Status NetworkReady condition).
  // FailedPrecondition naming what is missing: the config, or a plugin binary.
  Status ready() const;
  // ready(), and every plugin's VERSION lists the config's cniVersion.
  Status validate() const;
  // Spec 1.1: DEL for kept attachments of the network that are not in
  // `valid`, then GC to the plugins when the list's cniVersion is 1.1.0 or later.
  Status gc(const std::vector<Attachment>& valid);
  // Spec 1.1: STATUS to every plugin (cniVersion 1.1.0 and later; otherwise ready()).
  Status status() const;
  // Name of the network config list in use (empty when none).
  std::string network_name() const;

 private:
  InvokerConfig config_;
};

// The CNI_ARGS value containerd sends, with IgnoreUnknown=1 so plugins accept unknown keys.
std::string cni_args(const Attachment& a);

}  // namespace deckhand::cni
