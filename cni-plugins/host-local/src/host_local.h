// The commands of deckhand-host-local, each a whole CNI call: config from
// the request, the network's lease directory locked for the duration.
#pragma once

#include "deckhand/cni/plugin.h"

namespace deckhand::cni::host_local {

// One address from each range set for (container id, ifname); all or none.
CniResult<NetworkResult> add(const PluginRequest& req);
// Releases what (container id, ifname) holds; nothing held is fine.
CniStatus del(const PluginRequest& req);
// (container id, ifname) holds an address, and every address of prevResult
// that lies in our ranges.
CniStatus check(const PluginRequest& req);
// Releases leases of attachments not in cni.dev/valid-attachments.
CniStatus gc(const PluginRequest& req);
// The lease directory can be written (code 50 otherwise).
CniStatus status(const PluginRequest& req);

PluginHandlers handlers();

}  // namespace deckhand::cni::host_local
