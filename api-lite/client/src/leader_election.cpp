// Leader election over a Lease, as client-go's leaderelection package
// behaves: expiry is judged by when this candidate last saw the Lease
// change (its own steady clock), never by comparing its clock with the
// holder's; every write is conditional on the resourceVersion read.
#include "deckhand/client/leader_election.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "deckhand/common/daemon_settings.h"
#include "deckhand/common/digest.h"
#include "deckhand/common/log.h"

namespace deckhand::client {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// MicroTime: "2026-11-28T03:04:05.123456Z".
std::string micro_time_now() {
  auto now = std::chrono::system_clock::now();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:06d}Z", date, static_cast<int>(micros % 1000000));
}

std::string spec_string(const Json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t spec_int(const Json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// What of a Lease decides an election (client-go's LeaderElectionRecord).
struct LeaseRecord {
  std::string holder;
  int64_t duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int64_t transitions = 0;

  static LeaseRecord of(const Json& lease) {
    LeaseRecord r;
    auto spec_it = lease.find("spec");
    if (spec_it == lease.end() || !spec_it->is_object()) return r;
    const Json& spec = *spec_it;
    r.holder = spec_string(spec, "holderIdentity");
    r.duration_seconds = spec_int(spec, "leaseDurationSeconds");
    r.acquire_time = spec_string(spec, "acquireTime");
    r.renew_time = spec_string(spec, "renewTime");
    r.transitions = spec_int(spec, "leaseTransitions");
    return r;
  }
  bool operator==(const LeaseRecord&) const = default;

  Json spec() const {
    Json s = {{"holderIdentity", holder}, {"leaseDurationSeconds", duration_seconds}, {"leaseTransitions", transitions}};
    if (!acquire_time.empty()) s["acquireTime"] = acquire_time;
    if (!renew_time.empty()) s["renewTime"] = renew_time;
    return s;
  }
};

enum class Attempt { Acquired, HeldByOther, Failed };

class LeaseElector final : public LeaderElector {
 public:
  LeaseElector(std::shared_ptr<ApiClient> api, LeaderElectionConfig config)
      : api_(std::move(api)), config_(std::move(config)), log_(log::get("leader-election")) {}

  void run_thread() { thread_ = std::thread([this] { run(); }); }

  ~LeaseElector() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool is_leader() const override {
    if (!leading_.load()) return false;
    // A renewal stuck in a slow request must not leave us believing we lead.
    auto last = Clock::time_point(Clock::duration(last_renew_.load()));
    return Clock::now() - last < config_.renew_deadline;
  }

 private:
  void run() {
    while (!stopped()) {
      if (!campaign()) break;
      lead();
    }
    if (leading_.load()) release();
  }

  // Tries every retry_period (with client-go's jitter) until acquired or stopping.
  bool campaign() {
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(1.0, 2.2);  // client-go: JitterFactor 1.2
    while (!stopped()) {
      if (try_acquire_or_renew() == Attempt::Acquired) return true;
      wait_for(milliseconds(static_cast<int64_t>(config_.retry_period.count() * jitter(rng))));
    }
    return false;
  }

  // Renews every retry_period until a renewal has not succeeded within
  // renew_deadline, the Lease is held by another, or stopping.
  void lead() {
    leading_ = true;
    mark_renewed();
    log_->info("{} acquired lease {}/{}", config_.identity, config_.lease_namespace, config_.lease_name);
    if (config_.on_started_leading) config_.on_started_leading();
    auto last_success = Clock::now();
    while (!stopped()) {
      wait_for(config_.retry_period);
      if (stopped()) return;  // still leading: run() releases
      Attempt a = try_acquire_or_renew();
      if (a == Attempt::Acquired) {
        last_success = Clock::now();
        mark_renewed();
        continue;
      }
      if (a == Attempt::HeldByOther || Clock::now() - last_success >= config_.renew_deadline) {
        log_->warn("{} lost lease {}/{}{}", config_.identity, config_.lease_namespace, config_.lease_name,
                   a == Attempt::HeldByOther ? " to " + observed_.holder : ": renew deadline passed");
        leading_ = false;
        if (config_.on_stopped_leading) config_.on_stopped_leading();
        return;
      }
    }
  }

  Attempt try_acquire_or_renew() {
    std::string now = micro_time_now();
    int64_t duration_s = (config_.lease_duration.count() + 999) / 1000;
    auto current = api_->get(resources::kLeases, config_.lease_namespace, config_.lease_name);
    if (!current) {
      if (current.error().kind != ErrorKind::NotFound) {
        log_->debug("get lease: {}", current.error().message);
        return Attempt::Failed;
      }
      LeaseRecord mine{config_.identity, duration_s, now, now, 0};
      Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                    {"spec", mine.spec()}};
      auto created = api_->create(resources::kLeases, config_.lease_namespace, lease);
      if (!created) {
        log_->debug("create lease: {}", created.error().message);
        return Attempt::Failed;
      }
      observe(mine);
      return Attempt::Acquired;
    }
    LeaseRecord seen = LeaseRecord::of(*current);
    observe(seen);
    bool held_by_other = !seen.holder.empty() && seen.holder != config_.identity;
    if (held_by_other &&
        Clock::now() < observed_time_ + std::chrono::seconds(std::max<int64_t>(seen.duration_seconds, 0)))
      return Attempt::HeldByOther;

    LeaseRecord mine = seen;
    mine.holder = config_.identity;
    mine.duration_seconds = duration_s;
    mine.renew_time = now;
    if (seen.holder != config_.identity) {
      mine.acquire_time = now;
      mine.transitions = seen.transitions + 1;
    }
    Json updated = *current;
    updated["spec"] = mine.spec();
    auto written = api_->update(resources::kLeases, updated);
    if (!written) {
      log_->debug("update lease: {}", written.error().message);
      return Attempt::Failed;
    }
    observe(mine);
    return Attempt::Acquired;
  }

  // Remembers a record and when we first saw it as it is.
  void observe(const LeaseRecord& r) {
    if (r == observed_ && observed_valid_) return;
    bool new_holder = !observed_valid_ || r.holder != observed_.holder;
    observed_ = r;
    observed_valid_ = true;
    observed_time_ = Clock::now();
    if (new_holder && !r.holder.empty() && config_.on_new_leader) config_.on_new_leader(r.holder);
  }

  // Hands the Lease over at once: no holder, a one-second duration.
  void release() {
    leading_ = false;
    auto current = api_->get(resources::kLeases, config_.lease_namespace, config_.lease_name);
    if (!current) return;
    LeaseRecord seen = LeaseRecord::of(*current);
    if (seen.holder != config_.identity) return;
    LeaseRecord released = seen;
    released.holder.clear();
    released.duration_seconds = 1;
    released.renew_time = micro_time_now();
    Json updated = *current;
    updated["spec"] = released.spec();
    auto written = api_->update(resources::kLeases, updated);
    if (!written) log_->warn("release lease {}/{}: {}", config_.lease_namespace, config_.lease_name,
                             written.error().message);
  }

  void mark_renewed() { last_renew_ = Clock::now().time_since_epoch().count(); }

  bool stopped() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void wait_for(milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stopping_; });
  }

  std::shared_ptr<ApiClient> api_;
  LeaderElectionConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> leading_{false};
  std::atomic<Clock::rep> last_renew_{0};
  // Only the elector's thread touches these.
  LeaseRecord observed_;
  bool observed_valid_ = false;
  Clock::time_point observed_time_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<LeaderElector>> LeaderElector::start(std::shared_ptr<ApiClient> api,
                                                            LeaderElectionConfig config) {
  if (!api) return fail(ErrorKind::InvalidArgument, "leader election needs an API client");
  if (config.lease_name.empty() || config.lease_namespace.empty())
    return fail(ErrorKind::InvalidArgument, "leader election needs a lease namespace and name");
  if (config.identity.empty()) return fail(ErrorKind::InvalidArgument, "leader election needs an identity");
  DH_CHECK(check_leader_election_timing(config));
  auto elector = std::make_unique<LeaseElector>(std::move(api), std::move(config));
  elector->run_thread();
  return std::unique_ptr<LeaderElector>(std::move(elector));
}

Status check_leader_election_timing(const LeaderElectionConfig& config) {
  if (config.retry_period.count() <= 0 || config.renew_deadline >= config.lease_duration ||
      config.retry_period >= config.renew_deadline)
    return fail(ErrorKind::InvalidArgument,
                "leader election wants 0 < retry period ({} ms) < renew deadline ({} ms) < lease duration ({} ms)",
                config.retry_period.count(), config.renew_deadline.count(), config.lease_duration.count());
  return {};
}

void add_leader_election_settings(DaemonSettings& settings, bool& enabled, LeaderElectionConfig& config) {
  settings.boolean("leader-elect", enabled)
      .milliseconds("leader-elect-lease-duration-ms", 1, config.lease_duration)
      .milliseconds("leader-elect-renew-deadline-ms", 1, config.renew_deadline)
      .milliseconds("leader-elect-retry-period-ms", 1, config.retry_period)
      .text("lease-namespace", config.lease_namespace)
      .text("lease-name", config.lease_name);
}

Result<std::unique_ptr<LeaderElector>> start_leader_elector(const ClientConfig& client_config,
                                                            LeaderElectionConfig config) {
  ClientConfig lease_client_config = client_config;
  lease_client_config.request_timeout = config.renew_deadline / 2;
  lease_client_config.connect_timeout = std::min(lease_client_config.connect_timeout, config.renew_deadline / 2);
  DH_TRY(lease_api, ApiClient::create(lease_client_config));
  return LeaderElector::start(std::move(lease_api), std::move(config));
}

std::string default_leader_identity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "unknown");
  return std::string(host) + "_" + random_id().substr(0, 16);
}

}  // namespace deckhand::client
