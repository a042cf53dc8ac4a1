// deckhand-agent's settings: flags over /etc/deckhand/agent.toml.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::agent {

struct AgentConfig {
  std::string node_name;                    // default: the host name
  std::string kubeconfig = "/etc/deckhand/agent.kubeconfig";  // empty: no apiserver, static pods only
  std::string cri_endpoint = "unix:///run/deckhand/cri.sock";
  std::string root_dir = "/var/lib/deckhand/agent";
  std::string pod_log_dir = "/var/log/pods";
  std::string cgroup_root = "/deckhand-pods";  // pod cgroups go under it, by QoS class
  std::string resolv_conf = "/etc/resolv.conf"; // what pods with dnsPolicy Default get
  std::vector<std::string> cluster_dns;       // nameservers for ClusterFirst pods
  std::string cluster_domain = "cluster.local";
  std::map<std::string, std::string> node_labels;
  std::vector<std::string> node_taints;       // key=value:Effect
  int64_t max_pods = 110;
  int64_t pod_workers = 16;  // pods synced at once (kubelet: one goroutine per pod)
  std::string pod_manifest_path;                        // static pods' manifests; empty: none
  std::chrono::milliseconds file_check_interval{20000};  // that directory is read again this often
  std::chrono::milliseconds lease_interval{10000};
  std::chrono::milliseconds status_interval{10000};
  std::chrono::milliseconds relist_interval{1000};  // runtime state re-read per pod worker
  std::chrono::milliseconds backoff_base{10000};    // CrashLoopBackOff: 10 s doubling
  std::chrono::milliseconds backoff_max{300000};    // to 5 min
  std::chrono::milliseconds backoff_reset{600000};  // reset after 10 min of clean running
  // Garbage collection (kubelet's defaults): every gc_interval, dead containers
  // beyond max_dead_per_container go; unused images go when the image
  // filesystem is image_gc_high_percent full, down to image_gc_low_percent.
  std::chrono::milliseconds gc_interval{60000};
  int64_t max_dead_per_container = 1;
  int64_t image_gc_high_percent = 85;  // 100: never
  int64_t image_gc_low_percent = 80;
  std::chrono::milliseconds minimum_image_ttl{120000};  // an unused image is kept at least this long
  // The node's HTTPS server (kubelet's port): logs for `kubectl logs`, /pods, /stats/summary.
  std::string server_address = "0.0.0.0";
  int64_t server_port = 10250;                // 0: a free port; -1: no server
  std::string tls_cert_file, tls_key_file;    // empty: a self-signed certificate under root_dir/pki
  std::string client_ca_file;  // who may call it; empty: the CA of the kubeconfig's cluster
  std::string log_level = "warn";
  std::string config_file = "/etc/deckhand/agent.toml";
  bool show_help = false;
};

Result<AgentConfig> load_config(int argc, char** argv);
const char* usage();

}  // namespace deckhand::agent
