#include "pod_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "deckhand/common/log.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;
using std::chrono::milliseconds;

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("agent"); }

Clock::time_point from_nanos(int64_t nanos) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanos)));
}

bool is_terminal(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

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

  void requeue(milliseconds d) { requeue_after = requeue_after ? std::min(*requeue_after, d) : d; }
  void hold(const std::string& name, std::string reason, std::string message) {
    auto& cv = view.containers[name];
    cv.waiting_reason = std::move(reason);
    cv.waiting_message = std::move(message);
  }
};

PodWorker::PodWorker(const WorkerSettings& settings, std::shared_ptr<client::ApiClient> api,
                     std::shared_ptr<cri::CriClient> cri)
    : settings_(settings),
      api_(std::move(api)),
      cri_(std::move(cri)),
      crash_backoff_(settings.backoff_base, settings.backoff_max),
      pull_backoff_(settings.backoff_base, settings.backoff_max) {}

Result<SyncOutcome> PodWorker::sync(const Json& pod) {
  const Json& meta = json_at(pod, "metadata");
  if (!json_at(meta, "deletionTimestamp").is_null()) return sync_deleted(pod);
  Pass p{pod, PodId::of(pod), restart_policy(pod), {}, {}, {}, {}, {}, {}};
  p.view.runtime_name = settings_.runtime_name;
  p.view.host_ip = settings_.pod.host_ip;
  if (is_terminal(json_string(json_at(pod, "status"), "phase"))) {
    DH_CHECK(stop_sandboxes(p.id.uid));  // its containers stay, and with them its status
    return SyncOutcome{};
  }
  auto sandbox = ensure_sandbox(p);
  if (!sandbox) {
    (void)report_status(p);  // not ready yet, say so; the sandbox error is what matters
    return tl::unexpected(sandbox.error());
  }
  DH_CHECK(read_containers(p));
  // Probes, volumes and lifecycle hooks will hook in here, before containers start.
  bool initialized = true;
  const Json& inits = pod_containers(pod, true);
  for (const Json& spec : inits.is_array() ? inits : Json()) {
    if (!sync_init_container(p, spec)) {
      initialized = false;
      break;
    }
  }
  if (initialized) {
    const Json& apps = pod_containers(pod, false);
    for (const Json& spec : apps.is_array() ? apps : Json()) sync_app_container(p, spec);
  }
  DH_CHECK(report_status(p));
  if (is_terminal(pod_phase(pod, p.view))) DH_CHECK(stop_sandboxes(p.id.uid));
  return SyncOutcome{p.requeue_after, false};
}

Result<SyncOutcome> PodWorker::sync_deleted(const Json& pod) {
  PodId id = PodId::of(pod);
  const Json& grace = json_at(json_at(pod, "metadata"), "deletionGracePeriodSeconds");
  int64_t grace_seconds = grace.is_number_integer() ? std::max<int64_t>(0, grace.get<int64_t>()) : 30;
  DH_CHECK(with_context(kill_pod(*cri_, id.uid, grace_seconds), "stop pod {}", id.text()));
  Json options = {{"gracePeriodSeconds", 0}, {"preconditions", {{"uid", id.uid}}}};
  auto removed = api_->remove(client::resources::kPods, id.ns, id.name, options);
  if (!removed && !pod_is_gone(id))
    return tl::unexpected(removed.error().context("confirm deletion of pod {}", id.text()));
  logger()->info("pod={} stopped and its deletion confirmed", id.text());
  return SyncOutcome{std::nullopt, true};
}

// Gone already, or replaced by a pod of another uid: nothing of ours is left
// to confirm. (The node authorizer answers 403, not 404, for a pod it cannot
// find bound to us.)
bool PodWorker::pod_is_gone(const PodId& id) {
  auto current = api_->get(client::resources::kPods, id.ns, id.name);
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

// True when this init container has completed and the next may go.
bool PodWorker::sync_init_container(Pass& p, const Json& spec) {
  std::string name = json_string(spec, "name");
  ContainerView& cv = p.view.containers[name];
  if (!cv.latest) {
    start_container(p, spec, 0);
    return false;
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
  auto config = make_container_config(p.pod, spec, attempt, p.pod_ip, settings_.pod);
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
  auto pulled = cri_->pull_image(image, {}, &p.sandbox_config);
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

Status PodWorker::report_status(Pass& p) {
  std::string now = rfc3339_now();
  Json status = make_pod_status(p.pod, p.view, now);
  if (status == json_at(p.pod, "status") || (last_written_status_ && *last_written_status_ == status))
    return {};
  Json updated = p.pod;
  updated["status"] = status;
  auto written = api_->update_status(client::resources::kPods, updated);
  if (!written && client::is_conflict(written.error())) {
    // Our copy was stale: put the status over the current object.
    DH_TRY(fresh, api_->get(client::resources::kPods, p.id.ns, p.id.name));
    if (PodId::of(fresh).uid != p.id.uid) return {};
    status = make_pod_status(fresh, p.view, now);
    if (status == json_at(fresh, "status")) {
      last_written_status_ = status;
      return {};
    }
    fresh["status"] = status;
    written = api_->update_status(client::resources::kPods, fresh);
  }
  if (!written) return tl::unexpected(written.error().context("update status of pod {}", p.id.text()));
  last_written_status_ = status;
  return {};
}

Status kill_pod(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds) {
  DH_TRY(containers, cri.list_containers(uid_filter<v1::ContainerFilter>(uid)));
  // All at once, so that the grace period is the pod's and not per container.
  std::vector<Status> results(containers.size());
  std::vector<std::thread> stoppers;
  for (size_t i = 0; i < containers.size(); ++i) {
    if (containers[i].state() != v1::CONTAINER_RUNNING) continue;
    stoppers.emplace_back([&, i] { results[i] = cri.stop_container(containers[i].id(), grace_seconds); });
  }
  for (auto& t : stoppers) t.join();
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i] && results[i].error().kind != ErrorKind::NotFound)
      return tl::unexpected(results[i].error().context("stop container {}", containers[i].id()));
  DH_TRY(sandboxes, cri.list_pod_sandbox(uid_filter<v1::PodSandboxFilter>(uid)));
  for (auto& s : sandboxes) {
    DH_CHECK(with_context(cri.stop_pod_sandbox(s.id()), "stop sandbox {}", s.id()));
    DH_CHECK(with_context(cri.remove_pod_sandbox(s.id()), "remove sandbox {}", s.id()));
  }
  return {};
}

}  // namespace deckhand::agent
