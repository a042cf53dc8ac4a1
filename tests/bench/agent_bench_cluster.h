// One round of deckhand-agent-bench: a one-node cluster built from nothing
// (a private deckhand-apiserver, a CRI runtime with the busybox image, and
// deckhand-agent between them), N pods bound to the node created at once,
// each timed from just before its POST to the watch event that shows it
// Running; then the agent's memory, and everything taken down again.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api_bench_servers.h"
#include "bench_env.h"
#include "deckhand/common/result.h"

namespace deckhand::bench {

enum class NodeRuntimeKind { Deckhand, Containerd };
const char* label_of(NodeRuntimeKind k);  // "deckhand-cri", "containerd"

// The programs and images a round needs (all from the build dir but containerd).
struct ClusterInputs {
  std::string apiserver;    // <build>/api-lite/apiserver/deckhand-apiserver
  std::string agent;        // <build>/agent/deckhand-agent
  std::string deckhand_cri; // <build>/cri/server/deckhand-cri
  std::string build_dir;    // for our CNI plugins
  std::string busybox_tar;  // deckhand.test/busybox:1.36 (tagged: IfNotPresent)
  std::string pause_tar;    // containerd's sandbox image
  std::string deckhand_log_level = "info";
};
// Fails with the missing file's name (and how to build it).
Result<ClusterInputs> find_inputs(const std::string& build_dir, bool need_containerd);

struct RoundOptions {
  NodeRuntimeKind runtime = NodeRuntimeKind::Deckhand;
  int round = 1;
  int pods = 30;
  std::string dir;            // the round's directory (made here, removed by the caller)
  std::string volatile_dir;   // on a tmpfs: runtime state that production keeps in /run
  std::string cgroup_parent;  // the round's own cgroup tree (the caller's CgroupTree)
  std::string keep_logs;      // copy the round's logs here at its end; empty: do not
};

struct RoundResult {
  std::string runtime;
  int round = 0;
  std::vector<double> start_ms;  // per pod: create -> Running as the watch saw it
  double all_running_s = 0;      // the first POST -> the last pod Running
  double all_gone_s = 0;         // deletecollection -> the last DELETED event
  ProcessMemory agent;           // VmRSS and VmHWM with all pods Running
  uint64_t agent_pss_kib = 0;    // PSS at the same moment (shared library pages shared out)
  double agent_cpu_s = 0;        // the agent's user+system CPU, first POST -> all Running
  std::vector<std::string> notes;
};

// Runs one round; everything it started is stopped and its mounts, bridges
// and processes removed before it returns, pass or fail.
Result<RoundResult> run_round(const ClusterInputs& in, const RoundOptions& o);

}  // namespace deckhand::bench
