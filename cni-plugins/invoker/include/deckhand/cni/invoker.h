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
};

struct AddResult {
  Json result;                    // the final plugin's result (cniVersion of the conf list)
  std::vector<std::string> ips;   // addresses without prefix length, IPv4 first
};

class CniInvoker {
 public:
  explicit CniInvoker(InvokerConfig config);

  // ADD through every plugin of the list. When a plugin fails, DEL runs for
  // the ones that succeeded (so no veth or lease is left) and the error names
  // the plugin and carries its CNI error message.
  Result<AddResult> add(const Attachment& a);
  // DEL with the kept result; succeeds when the netns or the container is gone
  // already, and when there is nothing to delete. Removes the kept result.
  Status del(const Attachment& a);
  Status check(const Attachment& a);
  // Whether a usable network config exists (for the CRI Status NetworkReady condition).
  Status ready() const;
  // Name of the network config list in use (empty when none).
  std::string network_name() const;

 private:
  InvokerConfig config_;
};

// The CNI_ARGS value containerd sends, with IgnoreUnknown=1 so plugins accept unknown keys.
std::string cni_args(const Attachment& a);

}  // namespace deckhand::cni
