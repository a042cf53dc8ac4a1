// NodeReporter as the kubelet does it: register the Node (or take over the
// existing one), then a thread that posts node status every status_interval
// and renews the node Lease every lease_interval. API errors on the thread
// are logged and retried at the next tick. start() fails when the apiserver
// refuses the registration; when it cannot be reached, the thread keeps
// trying (static pods run meanwhile).
#include "deckhand/agent/node_reporter.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "deckhand/common/log.h"
#include "host_facts.h"
#include "node_object.h"

namespace deckhand::agent {

namespace {

using client::resources::kLeases;
using client::resources::kNodes;
using std::chrono::steady_clock;
using std::chrono::system_clock;

// Read-modify-write rounds before giving up until the next tick.
constexpr int kConflictRetries = 5;

std::string uid_of(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return "";
  const Json& meta = object["metadata"];
  return meta.contains("uid") && meta["uid"].is_string() ? meta["uid"].get<std::string>() : "";
}

// The --register-with-taint values.
Result<std::vector<Taint>> registered_taints(const std::vector<std::string>& texts) {
  std::vector<Taint> taints;
  for (const auto& text : texts) {
    DH_TRY(t, api::parse_taint_text(text));
    taints.push_back(t);
  }
  return taints;
}

class NodeReporterImpl final : public NodeReporter {
 public:
  NodeReporterImpl(const AgentConfig& config, std::shared_ptr<client::ApiClient> api,
                   std::shared_ptr<cri::CriClient> cri, std::map<std::string, std::string> labels,
                   std::vector<Taint> taints)
      : config_(config),
        api_(std::move(api)),
        cri_(std::move(cri)),
        labels_(std::move(labels)),
        taints_(std::move(taints)),
        log_(log::get("node")) {}

  ~NodeReporterImpl() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string host_ip() const override {
    std::lock_guard lock(mu_);
    return host_ip_;
  }

  // Creates the Node, or sets our labels and taints on the one there.
  Status register_node() {
    for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
      auto existing = api_->get(kNodes, "", config_.node_name);
      if (!existing && existing.error().kind != ErrorKind::NotFound) return tl::unexpected(existing.error());
      if (!existing) {
        auto created = api_->create(kNodes, "", new_node(config_.node_name, labels_, taints_));
        if (created) return remember_node(*created);
        if (created.error().kind == ErrorKind::AlreadyExists) continue;  // raced with another writer
        return tl::unexpected(created.error());
      }
      Json node = *existing;
      if (!apply_owned_metadata(node, labels_, taints_)) return remember_node(node);
      auto updated = api_->update(kNodes, node);
      if (updated) return remember_node(*updated);
      if (!client::is_conflict(updated.error())) return tl::unexpected(updated.error());
    }
    return fail(ErrorKind::Unavailable, "the Node kept changing under us ({} conflicts)", kConflictRetries);
  }

  // Writes the node's status, re-reading the Node on conflicts; registers it
  // again if someone deleted it.
  Status post_status() {
    DH_TRY(host, read_host_facts(config_.root_dir));
    StatusFacts facts{host, config_.node_name, runtime_version(), config_.max_pods,
                      config_.server_port > 0 ? static_cast<int>(config_.server_port) : 0};
    auto conditions = node_conditions(cri_->status(false));
    {
      std::lock_guard lock(mu_);
      host_ip_ = host.internal_ip;
    }
    for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
      auto node = api_->get(kNodes, "", config_.node_name);
      if (!node && node.error().kind == ErrorKind::NotFound) {
        log_->warn("{}: the Node is gone: registering it again", config_.node_name);
        DH_CHECK(register_node());
        continue;
      }
      if (!node) return tl::unexpected(node.error());
      apply_status(*node, facts, conditions, system_clock::now());
      auto updated = api_->update_status(kNodes, *node);
      if (updated) return remember_node(*updated);
      if (!client::is_conflict(updated.error())) return tl::unexpected(updated.error());
    }
    return fail(ErrorKind::Unavailable, "the Node kept changing under us ({} conflicts)", kConflictRetries);
  }

  // Renews kube-node-lease/<node>, creating it when missing. The last Lease
  // written is kept, so that a renewal is one PUT.
  Status renew_lease() {
    for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
      if (lease_.is_null()) {
        auto got = api_->get(kLeases, kNodeLeaseNamespace, config_.node_name);
        if (!got && got.error().kind != ErrorKind::NotFound) return tl::unexpected(got.error());
        if (!got) {
          Json lease;
          apply_lease(lease, config_.node_name, node_uid_, system_clock::now());
          auto created = api_->create(kLeases, kNodeLeaseNamespace, lease);
          if (created) {
            lease_ = *created;
            return {};
          }
          if (created.error().kind == ErrorKind::AlreadyExists) continue;
          return tl::unexpected(created.error());
        }
        lease_ = *got;
      }
      Json lease = lease_;
      apply_lease(lease, config_.node_name, node_uid_, system_clock::now());
      auto updated = api_->update(kLeases, lease);
      if (updated) {
        lease_ = *updated;
        return {};
      }
      lease_ = Json();  // stale or gone: read it again
      if (!client::is_conflict(updated.error()) && updated.error().kind != ErrorKind::NotFound)
        return tl::unexpected(updated.error());
    }
    return fail(ErrorKind::Unavailable, "the Lease kept changing under us ({} conflicts)", kConflictRetries);
  }

  Status register_and_post() {
    DH_CHECK(with_context(register_node(), "register node {}", config_.node_name));
    return with_context(post_status(), "post status of node {}", config_.node_name);
  }

  void set_host_ip(std::string ip) {
    std::lock_guard lock(mu_);
    host_ip_ = std::move(ip);
  }

  void start_thread(bool registered) {
    registered_ = registered;
    thread_ = std::thread([this] { run(); });
  }

 private:
  Status remember_node(const Json& node) {
    std::string uid = uid_of(node);
    if (uid.empty()) return fail(ErrorKind::Internal, "the apiserver returned a Node without metadata.uid");
    node_uid_ = uid;
    return {};
  }

  // "<name>://<version>" from the runtime; the last known one when it does not answer.
  std::string runtime_version() {
    auto v = cri_->version();
    if (v)
      runtime_version_ = v->runtime_name() + "://" + v->runtime_version();
    else
      log_->warn("{}: runtime version: {}", config_.node_name, v.error().message);
    return runtime_version_;
  }

  // One periodic job; nothing it does may end the thread.
  void tick(const char* what, const std::function<Status()>& job) {
    try {
      auto done = job();
      if (!done) log_->warn("{}: {}: {}", config_.node_name, what, done.error().message);
    } catch (const std::exception& e) {
      log_->error("{}: {}: unexpected exception: {}", config_.node_name, what, e.what());
    }
  }

  void run() {
    auto next_lease = steady_clock::now();
    auto next_status = next_lease + config_.status_interval;
    auto retry = std::min(config_.lease_interval, config_.status_interval);
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (wake_.wait_until(lock, std::min(next_lease, next_status), [this] { return stopping_; })) break;
      lock.unlock();
      if (!registered_) {
        tick("register", [&]() -> Status {
          DH_CHECK(register_and_post());
          registered_ = true;
          log_->info("{}: registered", config_.node_name);
          return Status{};
        });
        if (!registered_) next_lease = next_status = steady_clock::now() + retry;
      }
      if (registered_ && steady_clock::now() >= next_lease) {
        tick("renew lease", [this] { return renew_lease(); });
        next_lease = steady_clock::now() + config_.lease_interval;
      }
      if (registered_ && steady_clock::now() >= next_status) {
        tick("update status", [this] { return post_status(); });
        next_status = steady_clock::now() + config_.status_interval;
      }
      lock.lock();
    }
  }

  const AgentConfig config_;
  const std::shared_ptr<client::ApiClient> api_;
  const std::shared_ptr<cri::CriClient> cri_;
  const std::map<std::string, std::string> labels_;
  const std::vector<Taint> taints_;
  std::shared_ptr<spdlog::logger> log_;

  // Used by start() and then by the thread only.
  bool registered_ = false;
  std::string node_uid_;
  Json lease_;
  std::string runtime_version_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string host_ip_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<NodeReporter>> NodeReporter::start(const AgentConfig& config,
                                                          std::shared_ptr<client::ApiClient> api,
                                                          std::shared_ptr<cri::CriClient> cri) {
  if (config.node_name.empty()) return fail(ErrorKind::InvalidArgument, "register node: no node name");
  if (!api || !cri)
    return fail(ErrorKind::InvalidArgument, "register node {}: no API or CRI client", config.node_name);
  auto taints = with_context(registered_taints(config.node_taints), "register node {}", config.node_name);
  if (!taints) return tl::unexpected(taints.error());
  auto host = read_host_facts(config.root_dir);
  if (!host) return tl::unexpected(host.error().context("register node {}", config.node_name));
  auto reporter = std::make_unique<NodeReporterImpl>(
      config, std::move(api), std::move(cri), owned_labels(config, host->architecture), std::move(*taints));
  reporter->set_host_ip(host->internal_ip);
  auto registered = reporter->register_and_post();
  if (!registered && registered.error().kind != ErrorKind::Unavailable) return tl::unexpected(registered.error());
  if (!registered)
    log::get("node")->warn("{} (will keep trying)", registered.error().message);
  reporter->start_thread(registered.has_value());
  return std::unique_ptr<NodeReporter>(std::move(reporter));
}

}  // namespace deckhand::agent
