#include "pod_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "pull_secrets.h"
#include "static_pods.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;
using std::chrono::milliseconds;

constexpr int64_t kMinGraceAfterHook = 2;  // seconds a container gets after its preStop hook, as kubelet
constexpr std::chrono::seconds kPostStartTimeout{30};

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("agent"); }

Clock::time_point from_nanos(int64_t nanos) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanos)));
}

bool is_terminal(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

// Time left before activeDeadlineSeconds (counted from status.startTime); nullopt without a deadline.
std::optional<milliseconds> active_deadline_left(const Json& pod) {
  const Json& deadline = json_at(json_at(pod, "spec"), "activeDeadlineSeconds");
  if (!deadline.is_number_integer()) return std::nullopt;
  auto start = parse_rfc3339(json_string(json_at(pod, "status"), "startTime"));
  if (!start) return std::nullopt;  // not started: the clock has not begun
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return std::chrono::seconds(*start + deadline.get<int64_t>()) - now;
}

int64_t termination_grace(const Json& pod) {
  const Json& g = json_at(json_at(pod, "spec"), "terminationGracePeriodSeconds");
  return g.is_number_integer() ? std::max<int64_t>(0, g.get<int64_t>()) : 30;
}

// The spec of the container (init or app) with this name, or null.
const Json* container_spec(const Json& pod, const std::string& name) {
  for (bool init : {false, true}) {
    const Json& list = pod_containers(pod, init);
    if (!list.is_array()) continue;
    for (const Json& c : list)
      if (json_string(c, "name") == name) return &c;
  }
  return nullptr;
}

template <typename Filter>
Filter uid_filter(const std::string& uid) {
  Filter f;
  (*f.mutable_label_selector())[kPodUidLabel] = uid;
  return f;
}

}  // namespace

struct PodWorker::Pass {
  const Json& pod;
  PodId id;
  std::string policy;
  std::string sandbox_id;
  v1::PodSandboxConfig sandbox_config;
  std::string pod_ip;
  PodView view;
  std::map<std::string, std::vector<v1::Container>> instances;  // by container name, newest first
  std::optional<milliseconds> requeue_after;

  std::optional<PodFailure> failure;  // the agent ends the pod
  const Json* mirror = nullptr;       // a static pod's status goes to its mirror

  void requeue(milliseconds d) { requeue_after = requeue_after ? std::min(*requeue_after, d) : d; }
  void hold(const std::string& name, std::string reason, std::string message) {
    auto& cv = view.containers[name];
    cv.waiting_reason = std::move(reason);
    cv.waiting_message = std::move(message);
  }
};

PodWorker::PodWorker(const WorkerSettings& settings, std::shared_ptr<client::ApiClient> api,
                     std::shared_ptr<cri::CriClient> cri, std::shared_ptr<ProbeManager> probes, ObjectGetter objects)
    : settings_(settings),
      api_(std::move(api)),
      cri_(std::move(cri)),
      probes_(std::move(probes)),
      objects_(std::move(objects)),
      crash_backoff_(settings.backoff_base, settings.backoff_max),
      pull_backoff_(settings.backoff_base, settings.backoff_max) {}

Result<SyncOutcome> PodWorker::sync(const Json& pod, const Json* mirror) {
  const Json& meta = json_at(pod, "metadata");
  if (!json_at(meta, "deletionTimestamp").is_null()) return sync_deleted(pod);
  Pass p{pod, PodId::of(pod), restart_policy(pod), {}, {}, {}, {}, {}, {}, {}, mirror};
  p.view.runtime_name = settings_.runtime_name;
  p.view.host_ip = settings_.pod.host_ip;
  if (is_terminal(json_string(json_at(pod, "status"), "phase"))) {
    DH_CHECK(stop_sandboxes(p.id.uid));  // its containers stay, and with them its status
    return SyncOutcome{};
  }
  if (auto left = active_deadline_left(pod)) {
    if (left->count() <= 0) return fail_past_deadline(p);
    p.requeue(*left);
  }
  auto sandbox = ensure_sandbox(p);
  if (!sandbox) {
    (void)report_status(p);  // not ready yet, say so; the sandbox error is what matters
    return tl::unexpected(sandbox.error());
  }
  DH_CHECK(read_containers(p));
  if (sync_volumes(p)) {
    bool initialized = true;
    const Json& inits = pod_containers(pod, true);
    for (const Json& spec : array_or_empty(inits)) {
      if (!sync_init_container(p, spec)) {
        initialized = false;
        break;
      }
    }
    if (initialized) {
      const Json& apps = pod_containers(pod, false);
      for (const Json& spec : array_or_empty(apps)) sync_app_container(p, spec);
    }
  }
  apply_probes(p);
  DH_CHECK(report_status(p));
  if (is_terminal(pod_phase(pod, p.view))) DH_CHECK(stop_sandboxes(p.id.uid));
  return SyncOutcome{p.requeue_after, false};
}

// activeDeadlineSeconds: the pod is ended (Failed, DeadlineExceeded) when it
// has been active that long since its startTime.
Result<SyncOutcome> PodWorker::fail_past_deadline(Pass& p) {
  logger()->info("pod={} passed its activeDeadlineSeconds: stopping it", p.id.text());
  DH_CHECK(stop_pod_containers(*cri_, p.id.uid, termination_grace(p.pod), &p.pod));
  DH_CHECK(stop_sandboxes(p.id.uid));
  DH_CHECK(read_containers(p));
  p.failure = PodFailure{"DeadlineExceeded", "Pod was active on the node longer than the specified deadline"};
  DH_CHECK(report_status(p));
  return SyncOutcome{};
}

Result<SyncOutcome> PodWorker::sync_deleted(const Json& pod) {
  PodId id = PodId::of(pod);
  const Json& grace = json_at(json_at(pod, "metadata"), "deletionGracePeriodSeconds");
  int64_t grace_seconds = grace.is_number_integer() ? std::max<int64_t>(0, grace.get<int64_t>()) : 30;
  if (probes_) probes_->remove_pod(client::object_key(pod));
  DH_CHECK(with_context(remove_pod(*cri_, settings_.root_dir, id.uid, grace_seconds, &pod), "stop pod {}",
                        id.text()));
  Json options = {{"gracePeriodSeconds", 0}, {"preconditions", {{"uid", id.uid}}}};
  auto removed = api_->remove(client::resources::kPods, id.ns, id.name, options);
  if (!removed && !pod_is_gone(*api_, id))
    return tl::unexpected(removed.error().context("confirm deletion of pod {}", id.text()));
  logger()->info("pod={} stopped and its deletion confirmed", id.text());
  return SyncOutcome{std::nullopt, true};
}

bool pod_is_gone(client::ApiClient& api, const PodId& id) {
  auto current = api.get(client::resources::kPods, id.ns, id.name);
  if (!current) return current.error().kind == ErrorKind::NotFound;
  return PodId::of(*current).uid != id.uid;
}

Status PodWorker::stop_sandboxes(const std::string& uid) {
  DH_TRY(sandboxes, cri_->list_pod_sandbox(uid_filter<v1::PodSandboxFilter>(uid)));
  for (auto& s : sandboxes)
    if (s.state() == v1::SANDBOX_READY)
      DH_CHECK(with_context(cri_->stop_pod_sandbox(s.id()), "stop sandbox {}", s.id()));
  return {};
}

// The newest ready sandbox, or a new one (attempt + 1) when there is none:
// the containers of a sandbox that died are started again in the new one.
Result<std::string> PodWorker::ensure_sandbox(Pass& p) {
  DH_TRY(sandboxes, cri_->list_pod_sandbox(uid_filter<v1::PodSandboxFilter>(p.id.uid)));
  std::sort(sandboxes.begin(), sandboxes.end(),
            [](const v1::PodSandbox& a, const v1::PodSandbox& b) { return a.created_at() > b.created_at(); });
  auto ready = std::find_if(sandboxes.begin(), sandboxes.end(),
                            [](const v1::PodSandbox& s) { return s.state() == v1::SANDBOX_READY; });
  uint32_t attempt = 0;
  if (ready != sandboxes.end())
    attempt = ready->metadata().attempt();
  else if (!sandboxes.empty())
    attempt = sandboxes.front().metadata().attempt() + 1;
  DH_TRY(config, make_sandbox_config(p.pod, settings_.pod, attempt));
  std::string id;
  if (ready != sandboxes.end()) {
    id = ready->id();
  } else {
    for (auto& old : sandboxes) DH_CHECK(cri_->stop_pod_sandbox(old.id()));
    DH_TRY(made, with_context(cri_->run_pod_sandbox(config), "run sandbox (attempt {})", attempt));
    id = made;
    logger()->info("pod={} sandbox {} started (attempt {})", p.id.text(), id, attempt);
    // One dead sandbox stays for the last state of its containers; older ones go.
    for (size_t i = 1; i < sandboxes.size(); ++i) DH_CHECK(cri_->remove_pod_sandbox(sandboxes[i].id()));
  }
  DH_TRY(status, cri_->pod_sandbox_status(id, false));
  p.sandbox_id = id;
  p.sandbox_config = std::move(config);
  p.view.sandbox_ready = status.status().state() == v1::SANDBOX_READY;
  const auto& net = status.status().network();
  if (!net.ip().empty()) p.view.pod_ips.push_back(net.ip());
  for (auto& extra : net.additional_ips()) p.view.pod_ips.push_back(extra.ip());
  p.pod_ip = p.view.pod_ips.empty() ? "" : p.view.pod_ips.front();
  return id;
}

// True when the pod's volumes are there (set up now or by an earlier sync);
// otherwise its containers wait, held with the reason.
bool PodWorker::sync_volumes(Pass& p) {
  auto now = Clock::now();
  bool stale = volumes_stale_.exchange(false);
  if (volumes_set_up_at_ && !stale && now - *volumes_set_up_at_ < settings_.volume_refresh) return true;
  Json pod = p.pod;  // downward API files see the IPs this sync knows
  Json& status = pod["status"];
  if (!status.is_object()) status = Json::object();
  if (!p.pod_ip.empty()) status["podIP"] = p.pod_ip;
  status["hostIP"] = settings_.pod.host_ip;
  auto done = set_up_pod_volumes(pod, pod_directory(settings_.root_dir, p.id.uid), objects_);
  if (done || volumes_set_up_at_) {
    // A failed refresh leaves the last good contents in place until the next try.
    if (!done) logger()->warn("pod={} refresh volumes: {}", p.id.text(), done.error().message);
    volumes_set_up_at_ = now;
    return true;
  }
  logger()->warn("pod={} set up volumes: {}", p.id.text(), done.error().message);
  for (bool init : {true, false}) {
    const Json& list = pod_containers(p.pod, init);
    for (const Json& c : array_or_empty(list)) {
      std::string name = json_string(c, "name");
      if (!p.view.containers[name].latest) p.hold(name, "ContainerCreating", done.error().message);
    }
  }
  p.requeue(std::min(settings_.backoff_base, milliseconds(2000)));
  return false;
}

// Hands the running containers to the probes and takes their verdicts:
// started and ready go into the status, a failed liveness or startup probe
// stops the container (the next sync restarts it by the restart policy).
void PodWorker::apply_probes(Pass& p) {
  if (!probes_) return;
  std::map<std::string, std::string> running;
  for (auto& [name, cv] : p.view.containers)
    if (cv.latest && cv.latest->state() == v1::CONTAINER_RUNNING) running[name] = cv.latest->id();
  std::string key = client::object_key(p.pod);
  probes_->update_pod(key, p.pod, p.pod_ip, running);
  for (auto& [name, id] : running) {
    ContainerHealth health = probes_->health(key, id);
    ContainerView& cv = p.view.containers[name];
    cv.started = health.started;
    cv.ready = health.ready;
    if (!health.restart_wanted) continue;
    logger()->info("pod={} container {} {}: stopping it", p.id.text(), name, health.message);
    if (auto st = stop_container(*cri_, id, container_spec(p.pod, name), p.pod_ip, termination_grace(p.pod)); !st)
      logger()->warn("pod={} stop container {}: {}", p.id.text(), name, st.error().message);
    p.requeue(milliseconds(0));
  }
}

// kubelet's rule: a container whose postStart hook fails is killed (and
// restarted by the restart policy).
void PodWorker::run_post_start(Pass& p, const Json& spec, const std::string& id) {
  const Json& hook = json_at(json_at(spec, "lifecycle"), "postStart");
  if (hook.is_null()) return;
  ActionOutcome outcome = run_action(*cri_, hook, ActionTarget{id, p.pod_ip, &spec}, kPostStartTimeout);
  if (outcome.result == ProbeResult::Success) return;
  std::string name = json_string(spec, "name");
  logger()->warn("pod={} container {}: postStart hook failed: {}", p.id.text(), name, outcome.message);
  if (auto st = stop_container(*cri_, id, &spec, p.pod_ip, termination_grace(p.pod)); !st)
    logger()->warn("pod={} stop container {}: {}", p.id.text(), name, st.error().message);
}

Status PodWorker::read_containers(Pass& p) {
  DH_TRY(containers, cri_->list_containers(uid_filter<v1::ContainerFilter>(p.id.uid)));
  for (auto& c : containers) {
    auto it = c.labels().find(kContainerNameLabel);
    if (it != c.labels().end()) p.instances[it->second].push_back(c);
  }
  for (auto& [name, list] : p.instances) {
    std::sort(list.begin(), list.end(), [](const v1::Container& a, const v1::Container& b) {
      if (a.metadata().attempt() != b.metadata().attempt())
        return a.metadata().attempt() > b.metadata().attempt();
      return a.created_at() > b.created_at();
    });
    ContainerView& cv = p.view.containers[name];
    for (size_t i = 0; i < list.size() && i < 2; ++i) {
      auto status = cri_->container_status(list[i].id(), false);
      if (!status) {
        if (status.error().kind == ErrorKind::NotFound) continue;  // removed since the list
        return tl::unexpected(status.error().context("status of container {}", list[i].id()));
      }
      (i == 0 ? cv.latest : cv.previous) = status->status();
    }
  }
  return {};
}

// True when this init container has completed and the next may go. A
// sidecar (restartPolicy Always) lets the next go once it runs, and is
// restarted whenever it exits, whatever the pod's policy.
bool PodWorker::sync_init_container(Pass& p, const Json& spec) {
  std::string name = json_string(spec, "name");
  ContainerView& cv = p.view.containers[name];
  if (!cv.latest) {
    start_container(p, spec, 0);
    return is_sidecar(spec) && cv.latest && cv.latest->state() == v1::CONTAINER_RUNNING;
  }
  if (is_sidecar(spec)) {
    if (cv.latest->state() == v1::CONTAINER_EXITED) restart_after_backoff(p, spec);
    else if (cv.latest->state() == v1::CONTAINER_CREATED) start_created(p, name);
    return cv.latest->started_at() > 0;
  }
  switch (cv.latest->state()) {
    case v1::CONTAINER_EXITED:
      if (cv.latest->exit_code() == 0) return true;
      if (p.policy != "Never") restart_after_backoff(p, spec);  // under Never the pod has failed
      return false;
    case v1::CONTAINER_CREATED:
      start_created(p, name);
      return false;
    default:
      return false;  // running: wait for it to finish
  }
}

void PodWorker::sync_app_container(Pass& p, const Json& spec) {
  std::string name = json_string(spec, "name");
  ContainerView& cv = p.view.containers[name];
  if (!cv.latest) return start_container(p, spec, 0);
  if (cv.latest->state() == v1::CONTAINER_CREATED) return start_created(p, name);
  if (cv.latest->state() != v1::CONTAINER_EXITED) return;
  bool restart = p.policy == "Always" || (p.policy == "OnFailure" && cv.latest->exit_code() != 0);
  if (restart) restart_after_backoff(p, spec);
}

void PodWorker::restart_after_backoff(Pass& p, const Json& spec) {
  std::string name = json_string(spec, "name");
  const v1::ContainerStatus last = *p.view.containers[name].latest;
  auto now = Clock::now();
  auto finished = from_nanos(last.finished_at());
  if (finished - from_nanos(last.started_at()) >= settings_.backoff_reset) crash_backoff_.reset(name);
  milliseconds wait = crash_backoff_.remaining(name, finished, now);
  if (wait.count() > 0) {
    p.hold(name, "CrashLoopBackOff",
           fmt::format("back-off {} restarting failed container={} pod={}_{}({})",
                       go_duration(crash_backoff_.delay(name)), name, p.id.name, p.id.ns, p.id.uid));
    p.requeue(wait);
    return;
  }
  crash_backoff_.retry(name, now);
  logger()->info("pod={} container {} exited with {}: restarting", p.id.text(), name, last.exit_code());
  start_container(p, spec, last.metadata().attempt() + 1);
}

void PodWorker::start_created(Pass& p, const std::string& name) {
  ContainerView& cv = p.view.containers[name];
  auto started = cri_->start_container(cv.latest->id());
  if (!started) {
    p.hold(name, "RunContainerError", started.error().message);
    return;
  }
  if (auto status = cri_->container_status(cv.latest->id(), false)) cv.latest = status->status();
}

void PodWorker::start_container(Pass& p, const Json& spec, uint32_t attempt) {
  std::string name = json_string(spec, "name");
  if (!ensure_image(p, spec)) return;
  ContainerInputs in;
  in.restart_count = attempt;
  in.pod_ip = p.pod_ip;
  in.objects = objects_;
  auto mounts = container_mounts(p.pod, spec, pod_directory(settings_.root_dir, p.id.uid));
  if (!mounts) return p.hold(name, "CreateContainerConfigError", mounts.error().message);
  in.mounts = std::move(*mounts);
  auto config = make_container_config(p.pod, spec, in, settings_.pod);
  if (!config) return p.hold(name, "CreateContainerConfigError", config.error().message);
  auto id = cri_->create_container(p.sandbox_id, *config, p.sandbox_config);
  if (!id) {
    logger()->warn("pod={} create container {}: {}", p.id.text(), name, id.error().message);
    return p.hold(name, "CreateContainerError", id.error().message);
  }
  auto started = cri_->start_container(*id);
  if (!started) {
    logger()->warn("pod={} start container {}: {}", p.id.text(), name, started.error().message);
    p.hold(name, "RunContainerError", started.error().message);
  } else {
    run_post_start(p, spec, *id);
  }
  ContainerView& cv = p.view.containers[name];
  if (auto status = cri_->container_status(*id, false)) {
    if (cv.latest) cv.previous = cv.latest;
    cv.latest = status->status();
  }
  remove_older_instances(p, name);
}

// After a restart the new instance and the one before it stay (lastState); older ones go.
void PodWorker::remove_older_instances(Pass& p, const std::string& name) {
  auto& list = p.instances[name];
  for (size_t i = 1; i < list.size(); ++i) {
    if (list[i].state() == v1::CONTAINER_RUNNING) continue;
    if (auto removed = cri_->remove_container(list[i].id()); !removed)
      logger()->warn("pod={} remove old container {}: {}", p.id.text(), list[i].id(),
                     removed.error().message);
  }
  if (list.size() > 1) list.resize(1);
}

// True when the image is there; otherwise the container is held with the reason.
bool PodWorker::ensure_image(Pass& p, const Json& spec) {
  std::string name = json_string(spec, "name");
  std::string image = json_string(spec, "image");
  std::string policy = image_pull_policy(spec);
  if (policy != "Always") {
    auto status = cri_->image_status(image, false);
    if (!status) {
      p.hold(name, "ImageInspectError", status.error().message);
      return false;
    }
    if (!status->image().id().empty()) return true;
    if (policy == "Never") {
      p.hold(name, "ErrImageNeverPull",
             fmt::format("Container image \"{}\" is not present with pull policy of Never", image));
      return false;
    }
  }
  auto now = Clock::now();
  auto failed = pull_failed_at_.find(image);
  if (failed != pull_failed_at_.end()) {
    milliseconds wait = pull_backoff_.remaining(image, failed->second, now);
    if (wait.count() > 0) {
      p.hold(name, "ImagePullBackOff", fmt::format("Back-off pulling image \"{}\"", image));
      p.requeue(wait);
      return false;
    }
  }
  auto pulled = pull(p, image);
  if (!pulled) {
    pull_backoff_.retry(image, now);
    pull_failed_at_[image] = now;
    logger()->warn("pod={} pull {}: {}", p.id.text(), image, pulled.error().message);
    p.hold(name, "ErrImagePull", pulled.error().message);
    p.requeue(pull_backoff_.delay(image));
    return false;
  }
  pull_backoff_.reset(image);
  pull_failed_at_.erase(image);
  return true;
}

// Anonymously, or with each matching imagePullSecret in turn until one works.
Result<std::string> PodWorker::pull(Pass& p, const std::string& image) {
  DH_TRY(credentials, pull_credentials(p.pod, image, objects_));
  if (credentials.empty()) return cri_->pull_image(image, {}, &p.sandbox_config);
  Result<std::string> pulled = fail(ErrorKind::Internal, "no credential tried");
  for (const auto& auth : credentials) {
    pulled = cri_->pull_image(image, auth, &p.sandbox_config);
    if (pulled) break;
  }
  return pulled;
}

// The status goes to the pod object, or for a static pod to its mirror (none
// yet, or no apiserver: it is kept until there is one).
Status PodWorker::report_status(Pass& p) {
  std::string now = rfc3339_now();
  Json status = make_pod_status(p.pod, p.view, now, p.failure);
  bool static_pod = is_static_pod(p.pod);
  if (!api_ || (static_pod && !p.mirror)) return {};
  Json target = static_pod ? *p.mirror : p.pod;
  std::string target_uid = PodId::of(target).uid;
  if (status == json_at(p.pod, "status") || (last_written_ && *last_written_ == std::pair(target_uid, status)))
    return {};
  target["status"] = status;
  auto written = api_->update_status(client::resources::kPods, target);
  if (!written && client::is_conflict(written.error())) {
    // Our copy was stale: put the status over the current object.
    DH_TRY(fresh, api_->get(client::resources::kPods, p.id.ns, p.id.name));
    if (PodId::of(fresh).uid != target_uid) return {};
    Json basis = p.pod;  // a static pod's spec is its manifest's, never the mirror's
    if (static_pod) basis["status"] = json_at(fresh, "status");
    status = make_pod_status(static_pod ? basis : fresh, p.view, now, p.failure);
    if (status == json_at(fresh, "status")) {
      last_written_ = std::pair(target_uid, status);
      return {};
    }
    fresh["status"] = status;
    written = api_->update_status(client::resources::kPods, fresh);
  }
  if (!written) return tl::unexpected(written.error().context("update status of pod {}", p.id.text()));
  last_written_ = std::pair(target_uid, status);
  return {};
}

Status stop_container(cri::CriClient& cri, const std::string& container_id, const Json* container_spec,
                      const std::string& pod_ip, int64_t grace_seconds) {
  static const Json kNoHook;
  const Json& hook = container_spec ? json_at(json_at(*container_spec, "lifecycle"), "preStop") : kNoHook;
  if (!hook.is_null() && grace_seconds > 0) {
    auto begin = Clock::now();
    ActionOutcome outcome = run_action(cri, hook, ActionTarget{container_id, pod_ip, container_spec},
                                       std::chrono::seconds(grace_seconds));
    if (outcome.result != ProbeResult::Success)
      logger()->warn("container {}: preStop hook failed: {}", container_id, outcome.message);
    auto spent = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - begin).count();
    grace_seconds = std::max(grace_seconds - spent, kMinGraceAfterHook);
  }
  return cri.stop_container(container_id, grace_seconds);
}

Status kill_pod(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds, const Json* pod) {
  DH_CHECK(stop_pod_containers(cri, uid, grace_seconds, pod));
  DH_TRY(sandboxes, cri.list_pod_sandbox(uid_filter<v1::PodSandboxFilter>(uid)));
  for (auto& s : sandboxes) {
    DH_CHECK(with_context(cri.stop_pod_sandbox(s.id()), "stop sandbox {}", s.id()));
    DH_CHECK(with_context(cri.remove_pod_sandbox(s.id()), "remove sandbox {}", s.id()));
  }
  return {};
}

Status stop_pod_containers(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds, const Json* pod) {
  DH_TRY(containers, cri.list_containers(uid_filter<v1::ContainerFilter>(uid)));
  std::string pod_ip = pod ? json_string(json_at(*pod, "status"), "podIP") : "";
  // All at once, so that the grace period is the pod's and not per container.
  std::vector<Status> results(containers.size());
  std::vector<std::thread> stoppers;
  for (size_t i = 0; i < containers.size(); ++i) {
    if (containers[i].state() != v1::CONTAINER_RUNNING) continue;
    const Json* spec = nullptr;
    if (auto it = containers[i].labels().find(kContainerNameLabel); pod && it != containers[i].labels().end())
      spec = container_spec(*pod, it->second);
    stoppers.emplace_back(
        [&, i, spec] { results[i] = stop_container(cri, containers[i].id(), spec, pod_ip, grace_seconds); });
  }
  for (auto& t : stoppers) t.join();
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i] && results[i].error().kind != ErrorKind::NotFound)
      return tl::unexpected(results[i].error().context("stop container {}", containers[i].id()));
  return {};
}

Status remove_pod(cri::CriClient& cri, const std::string& root_dir, const std::string& uid, int64_t grace_seconds,
                  const Json* pod) {
  DH_CHECK(kill_pod(cri, uid, grace_seconds, pod));
  return with_context(tear_down_pod_volumes(pod_directory(root_dir, uid)), "remove the volumes of pod {}", uid);
}

}  // namespace deckhand::agent
