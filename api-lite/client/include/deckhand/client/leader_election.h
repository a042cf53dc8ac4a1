// Leader election over a coordination.k8s.io/v1 Lease, with client-go's
// rules and timing: a candidate takes the Lease when it is free or its
// holder has not renewed it for leaseDurationSeconds, renews it every
// retry_period, and gives up leadership the moment a renewal has not
// succeeded within renew_deadline (or the Lease was taken by another). Writes
// use resourceVersion preconditions, so two candidates never both win.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "deckhand/client/api_client.h"

namespace deckhand {
class DaemonSettings;
}

namespace deckhand::client {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;  // "deckhand-scheduler", "deckhand-controller-manager"
  std::string identity;    // unique per candidate: "<host>_<random>"
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  // Called on the elector's thread when this candidate becomes leader;
  // on_stopped_leading must stop the work at once (client-go: the process exits).
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;  // optional
};

class LeaderElector {
 public:
  // Starts campaigning on a thread of its own. A config error (empty name or
  // identity, renew_deadline >= lease_duration, retry_period >= renew_deadline) fails.
  static Result<std::unique_ptr<LeaderElector>> start(std::shared_ptr<ApiClient> api, LeaderElectionConfig config);
  // Stops campaigning; a leader releases the Lease (holderIdentity cleared,
  // leaseDurationSeconds 1) so that a standby takes over at once.
  virtual ~LeaderElector() = default;
  virtual bool is_leader() const = 0;
};

// "<host name>_<16 hex digits>", unique per process.
std::string default_leader_identity();

// 0 < retry_period < renew_deadline < lease_duration, or an error saying so.
Status check_leader_election_timing(const LeaderElectionConfig& config);

// The leader election settings of kube-scheduler and kube-controller-manager
// (times in milliseconds): --leader-elect, --leader-elect-lease-duration-ms,
// --leader-elect-renew-deadline-ms, --leader-elect-retry-period-ms,
// --lease-namespace, --lease-name.
void add_leader_election_settings(DaemonSettings& settings, bool& enabled, LeaderElectionConfig& config);

// Starts campaigning on a client of its own whose calls end within half the
// renew deadline: a slow apiserver then costs one renewal, not the Lease.
Result<std::unique_ptr<LeaderElector>> start_leader_elector(const ClientConfig& client_config,
                                                            LeaderElectionConfig config);

}  // namespace deckhand::client
