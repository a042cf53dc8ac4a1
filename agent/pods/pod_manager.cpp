#include "deckhand/agent/pod_manager.h"

#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "deckhand/client/informer.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "host_facts.h"
#include "garbage_collector.h"
#include "pod_worker.h"
#include "referenced_objects.h"
#include "static_pods.h"

namespace deckhand::agent {

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("agent"); }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

int64_t grace_of(const Json& pod) {
  const Json& g = json_at(json_at(pod, "metadata"), "deletionGracePeriodSeconds");
  return g.is_number_integer() ? std::max<int64_t>(0, g.get<int64_t>()) : 0;
}

class PodManagerImpl final : public PodManager {
 public:
  PodManagerImpl(const AgentConfig& config, WorkerSettings settings, std::shared_ptr<client::ApiClient> api,
                 std::shared_ptr<cri::CriClient> cri)
      : workers_count_(static_cast<int>(config.pod_workers)),
        node_name_(config.node_name),
        manifest_dir_(config.pod_manifest_path),
        settings_(std::move(settings)),
        api_(std::move(api)),
        cri_(std::move(cri)),
        relist_interval_(config.relist_interval),
        file_check_interval_(config.file_check_interval),
        gc_interval_(config.gc_interval),
        gc_(cri_, GcPolicy{static_cast<int>(config.image_gc_high_percent),
                           static_cast<int>(config.image_gc_low_percent), config.minimum_image_ttl,
                           static_cast<int>(config.max_dead_per_container)}),
        probes_(std::make_shared<ProbeManager>(cri_, [this](const std::string& key) { queue_.add(key); })) {
    if (api_) objects_ = std::make_unique<ReferencedObjects>(api_, [this](const ObjectRef& ref) { object_changed(ref); });
  }

  ~PodManagerImpl() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    queue_.shut_down();  // later adds from the informer's handlers and the probes are ignored
    for (auto& t : threads_) t.join();
    objects_.reset();  // its handlers read the informer and the workers
    probes_.reset();
    informer_.reset();
  }

  // The API's pods bound here (mirror pods stand for the static pods) and the static pods.
  std::vector<Json> pods() const override {
    std::vector<Json> all;
    if (informer_)
      for (auto& pod : informer_->list())
        if (!is_mirror_pod(pod)) all.push_back(std::move(pod));
    std::lock_guard lock(mu_);
    for (const auto& [key, pod] : static_pods_) all.push_back(pod);
    return all;
  }

  void start() {
    // Before the informer: a mirror pod is orphaned only if its manifest is not there.
    scan_static_pods();
    if (api_) {
      client::InformerHandlers h;
      h.on_add = [this](const Json& pod) { queue_.add(client::object_key(pod)); };
      h.on_update = [this](const Json&, const Json& pod) { queue_.add(client::object_key(pod)); };
      h.on_delete = [this](const Json& pod) { queue_.add(client::object_key(pod)); };
      client::InformerOptions o;
      o.name = "pods on " + node_name_;
      informer_ = client::Informer::start(
          client::make_list_watcher(api_, client::resources::kPods, "", "", "spec.nodeName=" + node_name_), h,
          o);
    }
    for (int i = 0; i < workers_count_; ++i) threads_.emplace_back([this] { work(); });
    threads_.emplace_back([this] { relist_loop(); });
    threads_.emplace_back([this] { gc_loop(); });
  }

 private:
  void work() {
    while (auto key = queue_.get()) {
      auto outcome = sync_key(*key);
      if (!outcome) {
        logger()->warn("pod={} sync failed: {}", *key, outcome.error().message);
        queue_.add_rate_limited(*key);
      } else {
        queue_.forget(*key);
        if (outcome->requeue_after) queue_.add_after(*key, *outcome->requeue_after);
      }
      queue_.done(*key);
    }
  }

  // The queue runs one sync per key at a time, so a pod's worker is never shared.
  Result<SyncOutcome> sync_key(const std::string& key) {
    std::optional<Json> pod = informer_ ? informer_->get(key) : std::nullopt;
    std::optional<Json> mirror, known;
    if (pod && is_mirror_pod(*pod)) mirror = std::exchange(pod, std::nullopt);
    {
      std::lock_guard lock(mu_);
      if (auto it = last_known_.find(key); it != last_known_.end()) known = it->second;
      // A static pod hides an API pod of the same name, as in kubelet.
      if (auto it = static_pods_.find(key); it != static_pods_.end()) pod = it->second;
    }
    std::string uid = pod ? PodId::of(*pod).uid : "";
    if (known && PodId::of(*known).uid != uid) {
      // The pod we ran is gone from the API or its manifest (or replaced by another of the same name).
      std::string old_uid = PodId::of(*known).uid;
      probes_->remove_pod(key);
      DH_CHECK(with_context(remove_pod(*cri_, settings_.root_dir, old_uid, grace_of(*known), &*known),
                            "stop removed pod {}", key));
      logger()->info("pod={} (uid {}) is gone or replaced: stopped", key, old_uid);
      forget(key, old_uid);
    }
    if (!pod) {
      if (mirror) DH_CHECK(remove_mirror(*mirror, "its static pod is gone"));
      return SyncOutcome{};
    }
    bool static_pod = is_static_pod(*pod);
    if (static_pod) {
      // The apiserver's trouble must not stop the static pod: it runs without a mirror.
      auto current = sync_mirror(*pod, std::move(mirror));
      if (!current) logger()->warn("pod={} mirror pod: {}", key, current.error().message);
      mirror = current ? std::move(*current) : std::nullopt;
      // The status it last reported is where a static pod's status goes on from.
      if (mirror) (*pod)["status"] = json_at(*mirror, "status");
    }
    std::shared_ptr<PodWorker> worker;
    {
      std::lock_guard lock(mu_);
      // Its deletion is confirmed; the informer has not heard yet.
      if (confirmed_.count(uid)) return SyncOutcome{};
      last_known_[key] = *pod;
      auto& w = workers_[uid];
      if (!w) w = std::make_shared<PodWorker>(settings_, api_, cri_, probes_, object_getter());
      worker = w;
    }
    // A static pod without a mirror (no Node yet, say) tries again at the next relist.
    auto outcome = worker->sync(*pod, mirror ? &*mirror : nullptr);
    if (outcome && outcome->finished) {
      forget(key, uid);
      std::lock_guard lock(mu_);
      confirmed_.insert(uid);
    }
    return outcome;
  }

  ObjectGetter object_getter() {
    return [objects = objects_.get()](const std::string& resource, const std::string& ns,
                                      const std::string& name) -> Result<Json> {
      if (!objects) return fail(ErrorKind::Unavailable, "no apiserver to read {} {}/{} from", resource, ns, name);
      return objects->get(resource, ns, name);
    };
  }

  // Runs on the object's watch thread: the pods using it write their volumes again.
  void object_changed(const ObjectRef& ref) {
    std::vector<Json> users;
    for (auto& pod : informer_ ? informer_->list() : std::vector<Json>{})
      if (referenced_objects(pod).count(ref)) users.push_back(std::move(pod));
    std::lock_guard lock(mu_);
    for (const auto& [key, pod] : static_pods_)
      if (referenced_objects(pod).count(ref)) users.push_back(pod);
    for (const auto& pod : users) {
      if (auto w = workers_.find(PodId::of(pod).uid); w != workers_.end()) w->second->refresh_volumes();
      queue_.add(client::object_key(pod));
    }
  }

  // The static pod's mirror as the API has it after this: made when missing,
  // made again when outdated or deleted by someone. Without an apiserver, none.
  Result<std::optional<Json>> sync_mirror(const Json& static_pod, std::optional<Json> mirror) {
    if (!api_) return std::optional<Json>{};
    if (mirror) {
      bool deleted = !json_at(json_at(*mirror, "metadata"), "deletionTimestamp").is_null();
      if (!deleted && mirror_hash(*mirror) == config_hash(static_pod)) return mirror;
      DH_CHECK(remove_mirror(*mirror, deleted ? "it was deleted" : "its manifest changed"));
    }
    // The owner is the Node as it is now (it may have been made again since).
    auto node = api_->get(client::resources::kNodes, "", node_name_);
    if (!node) {
      logger()->debug("pod={} no mirror pod yet: Node {}: {}", client::object_key(static_pod), node_name_,
                      node.error().message);
      return std::optional<Json>{};
    }
    std::string ns = json_string(json_at(static_pod, "metadata"), "namespace");
    auto created = api_->create(client::resources::kPods, ns, make_mirror_pod(static_pod, node_name_, PodId::of(*node).uid));
    if (!created && created.error().kind == ErrorKind::AlreadyExists) {
      // Made by an earlier sync that the informer has not shown us yet?
      std::string name = json_string(json_at(static_pod, "metadata"), "name");
      auto there = api_->get(client::resources::kPods, ns, name);
      if (there && is_mirror_pod(*there) && mirror_hash(*there) == config_hash(static_pod) &&
          json_at(json_at(*there, "metadata"), "deletionTimestamp").is_null())
        return std::optional<Json>{std::move(*there)};
    }
    if (!created) return tl::unexpected(created.error().context("create mirror pod"));
    logger()->info("pod={} mirror pod created", client::object_key(static_pod));
    return std::optional<Json>{std::move(*created)};
  }

  Status remove_mirror(const Json& mirror, const char* why) {
    PodId id = PodId::of(mirror);
    Json options = {{"gracePeriodSeconds", 0}, {"preconditions", {{"uid", id.uid}}}};
    auto removed = api_->remove(client::resources::kPods, id.ns, id.name, options);
    if (!removed && !pod_is_gone(*api_, id))
      return tl::unexpected(removed.error().context("delete mirror pod {}", id.text()));
    logger()->info("pod={} mirror pod deleted: {}", id.text(), why);
    return {};
  }

  // Reads the manifest directory; queues the pods that came, went or changed.
  void scan_static_pods() {
    if (manifest_dir_.empty()) return;
    auto scan = scan_manifests(manifest_dir_, node_name_);
    if (!scan) {
      logger()->warn("static pods: {}", scan.error().message);
      return;  // keep what we have: a passing error must not stop them
    }
    if (scan->errors != manifest_errors_) {
      for (const auto& e : scan->errors) logger()->warn("static pods: {}", e);
      manifest_errors_ = scan->errors;
    }
    std::set<std::string> changed;
    {
      std::lock_guard lock(mu_);
      std::map<std::string, Json> now;
      for (auto& pod : scan->pods) {
        std::string key = client::object_key(pod);
        auto old = static_pods_.find(key);
        if (old != static_pods_.end() && config_hash(old->second) == config_hash(pod)) {
          now[key] = std::move(old->second);  // the same pod, seen first back then
          continue;
        }
        now[key] = std::move(pod);
        changed.insert(key);
      }
      for (const auto& [key, pod] : static_pods_)
        if (!now.count(key)) changed.insert(key);
      static_pods_ = std::move(now);
    }
    for (const auto& key : changed) queue_.add(key);
  }

  void forget(const std::string& key, const std::string& uid) {
    std::lock_guard lock(mu_);
    last_known_.erase(key);
    workers_.erase(uid);
  }

  // Runtime changes (a container exited) have no event: look at every pod
  // again each interval, and stop sandboxes whose pod this agent no longer has.
  // The manifest directory is read again every file_check_interval.
  void relist_loop() {
    auto next_scan = std::chrono::steady_clock::now() + file_check_interval_;
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, relist_interval_, [this] { return stopping_; })) {
      lock.unlock();
      if (std::chrono::steady_clock::now() >= next_scan) {
        scan_static_pods();
        next_scan = std::chrono::steady_clock::now() + file_check_interval_;
      }
      relist();
      lock.lock();
    }
  }

  // On a thread of its own: removing images may take a while.
  void gc_loop() {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, gc_interval_, [this] { return stopping_; })) {
      lock.unlock();
      auto report = gc_.collect();
      if (!report)
        logger()->warn("{}", report.error().message);
      else if (!report->removed_containers.empty() || !report->removed_images.empty())
        logger()->info("garbage collection: removed {} dead containers, {} images ({} bytes)",
                       report->removed_containers.size(), report->removed_images.size(),
                       report->image_bytes_freed);
      lock.lock();
    }
  }

  void relist() {
    std::vector<Json> static_pods;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, pod] : static_pods_) static_pods.push_back(pod);
    }
    for (const auto& pod : static_pods) queue_.add(client::object_key(pod));
    // Until the API's pods are known, no sandbox can be called orphaned.
    if (informer_ && !informer_->has_synced()) return;
    // Listed first: a directory made since belongs to a pod the lists below know.
    auto pod_dirs = fs::list_dir(settings_.root_dir + "/pods");
    auto sandboxes = cri_->list_pod_sandbox();  // before the pods: a sandbox made since has a known pod
    if (!sandboxes) {
      logger()->warn("relist: list sandboxes: {}", sandboxes.error().message);
      return;
    }
    std::set<std::string> uids;
    std::set<ObjectRef> used;
    for (const auto& pod : static_pods) {
      uids.insert(PodId::of(pod).uid);
      used.merge(referenced_objects(pod));
    }
    for (auto& pod : informer_ ? informer_->list() : std::vector<Json>{}) {
      uids.insert(PodId::of(pod).uid);
      used.merge(referenced_objects(pod));
      queue_.add(client::object_key(pod));
    }
    if (objects_) objects_->retain(used);
    {
      std::lock_guard lock(mu_);
      std::erase_if(confirmed_, [&](const std::string& uid) { return !uids.count(uid); });
      for (auto& [key, pod] : last_known_) uids.insert(PodId::of(pod).uid);  // its key's sync stops it
    }
    for (auto& s : *sandboxes) {
      auto it = s.labels().find(kPodUidLabel);
      if (it == s.labels().end() || uids.count(it->second)) continue;
      std::string who = s.metadata().namespace_() + "/" + s.metadata().name();
      logger()->info("pod={} (uid {}) is not bound here any more: removing its sandbox {}", who, it->second,
                     s.id());
      if (auto st = remove_pod(*cri_, settings_.root_dir, it->second, 0); !st)
        logger()->warn("pod={} remove orphaned sandbox {}: {}", who, s.id(), st.error().message);
      uids.insert(it->second);  // done with it
    }
    if (pod_dirs) remove_orphaned_pod_dirs(*pod_dirs, uids);
  }

  // Pod directories (volumes) of pods this agent no longer has and no sandbox holds.
  void remove_orphaned_pod_dirs(const std::vector<std::string>& dirs, const std::set<std::string>& known) {
    for (auto& uid : dirs) {
      if (known.count(uid)) continue;
      logger()->info("pod uid {} is gone: removing its directory", uid);
      if (auto st = tear_down_pod_volumes(pod_directory(settings_.root_dir, uid)); !st)
        logger()->warn("remove directory of pod uid {}: {}", uid, st.error().message);
    }
  }

  int workers_count_;
  std::string node_name_;
  std::string manifest_dir_;  // static pods; empty: none
  WorkerSettings settings_;
  std::shared_ptr<client::ApiClient> api_;
  std::shared_ptr<cri::CriClient> cri_;
  std::chrono::milliseconds relist_interval_;
  std::chrono::milliseconds file_check_interval_;
  std::chrono::milliseconds gc_interval_;
  GarbageCollector gc_;  // the GC thread's only
  client::WorkQueue queue_;
  std::shared_ptr<ProbeManager> probes_;  // after queue_: its threads add to the queue
  std::unique_ptr<client::Informer> informer_;
  std::unique_ptr<ReferencedObjects> objects_;  // none without an apiserver
  std::vector<std::thread> threads_;

  std::vector<std::string> manifest_errors_;  // of the last scan: each is logged once

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Json> static_pods_;  // by key, from the manifest directory
  bool stopping_ = false;
  std::map<std::string, Json> last_known_;                     // by key: what to stop once it is gone
  std::map<std::string, std::shared_ptr<PodWorker>> workers_;  // by pod uid
  std::set<std::string> confirmed_;  // uids whose deletion we confirmed, until the informer drops them
};

Result<ResolvConf> read_host_dns(const std::string& path) {
  if (path.empty()) return ResolvConf{};
  DH_TRY(text, with_context(fs::read_file(path), "read resolv_conf {}", path));
  return parse_resolv_conf(text);
}

}  // namespace

Result<std::unique_ptr<PodManager>> PodManager::start(const AgentConfig& config,
                                                      std::shared_ptr<client::ApiClient> api,
                                                      std::shared_ptr<cri::CriClient> cri,
                                                      std::string host_ip) {
  if (config.node_name.empty()) return fail(ErrorKind::InvalidArgument, "pod manager: no node name");
  WorkerSettings s;
  s.pod.node_name = config.node_name;
  s.pod.host_name = host_name();
  s.pod.host_ip = std::move(host_ip);
  s.pod.pod_log_dir = config.pod_log_dir;
  s.pod.cgroup_root = config.cgroup_root;
  s.pod.cluster_dns = config.cluster_dns;
  s.pod.cluster_domain = config.cluster_domain;
  DH_TRY(host_dns, read_host_dns(config.resolv_conf));
  s.pod.host_dns = std::move(host_dns);
  DH_TRY(version, with_context(cri->version(), "CRI runtime at {}", cri->endpoint()));
  s.runtime_name = version.runtime_name();
  s.root_dir = config.root_dir;
  DH_CHECK(fs::make_dirs(config.root_dir + "/pods", 0750));
  // A directory per pod under each, made and removed with the pod: spread
  // over the disk's block groups (see fs::spread_subdirectories).
  DH_CHECK(fs::spread_subdirectories(config.root_dir + "/pods"));
  if (!config.pod_log_dir.empty()) {
    DH_CHECK(fs::make_dirs(config.pod_log_dir, 0755));
    DH_CHECK(fs::spread_subdirectories(config.pod_log_dir));
  }
  DH_TRY(host, read_host_facts(config.root_dir));
  if (s.pod.host_ip.empty()) s.pod.host_ip = host.internal_ip;  // no NodeReporter without an apiserver
  s.pod.node_cpu_millis = host.cpus * 1000;
  s.pod.node_memory_bytes = static_cast<int64_t>(host.memory_kib) * 1024;
  s.backoff_base = config.backoff_base;
  s.backoff_max = config.backoff_max;
  s.backoff_reset = config.backoff_reset;
  auto manager = std::make_unique<PodManagerImpl>(config, std::move(s), std::move(api), std::move(cri));
  manager->start();
  return std::unique_ptr<PodManager>(std::move(manager));
}

}  // namespace deckhand::agent
