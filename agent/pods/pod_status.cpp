#include "pod_status.h"

#include <fmt/format.h>
#include <time.h>

#include <chrono>
#include <cstdio>

#include "pod_config.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;

namespace {

bool exited(const std::optional<v1::ContainerStatus>& s) { return s && s->state() == v1::CONTAINER_EXITED; }
bool exited_ok(const std::optional<v1::ContainerStatus>& s) { return exited(s) && s->exit_code() == 0; }
bool running(const std::optional<v1::ContainerStatus>& s) { return s && s->state() == v1::CONTAINER_RUNNING; }

// An init container is done when it exited 0; a sidecar once it has started.
bool init_done(const Json& spec, const std::optional<v1::ContainerStatus>& s) {
  if (is_sidecar(spec)) return s && s->started_at() > 0;
  return exited_ok(s);
}

const ContainerView& view_of(const PodView& view, const std::string& name) {
  static const ContainerView none;
  auto it = view.containers.find(name);
  return it == view.containers.end() ? none : it->second;
}

std::vector<std::string> container_names(const Json& pod, bool init) {
  std::vector<std::string> out;
  const Json& list = pod_containers(pod, init);
  if (!list.is_array()) return out;
  for (const Json& c : list) out.push_back(json_string(c, "name"));
  return out;
}

std::string container_id(const PodView& view, const v1::ContainerStatus& s) {
  return view.runtime_name + "://" + s.id();
}

Json time_or_null(int64_t nanos) { return nanos > 0 ? Json(rfc3339(nanos)) : Json(); }

Json terminated_state(const PodView& view, const v1::ContainerStatus& s) {
  std::string reason = s.reason().empty() ? (s.exit_code() == 0 ? "Completed" : "Error") : s.reason();
  Json t = {{"exitCode", s.exit_code()},
            {"reason", reason},
            {"startedAt", time_or_null(s.started_at())},
            {"finishedAt", time_or_null(s.finished_at())},
            {"containerID", container_id(view, s)}};
  if (!s.message().empty()) t["message"] = s.message();
  return {{"terminated", t}};
}

Json waiting_state(const std::string& reason, const std::string& message) {
  Json w = {{"reason", reason}};
  if (!message.empty()) w["message"] = message;
  return {{"waiting", w}};
}

// One entry of containerStatuses or initContainerStatuses. not_started_reason
// is what a container that has not started shows ("PodInitializing" for app
// containers while init containers run).
Json container_status(const Json& spec, const ContainerView& v, const PodView& view, bool init,
                      const std::string& not_started_reason) {
  Json s = {{"name", json_string(spec, "name")},
            {"image", json_string(spec, "image")},
            {"imageID", ""},
            {"restartCount", 0},
            {"ready", false},
            {"started", false},
            {"lastState", Json::object()}};
  if (!v.latest) {
    s["state"] =
        waiting_state(v.waiting_reason.empty() ? not_started_reason : v.waiting_reason, v.waiting_message);
    return s;
  }
  const v1::ContainerStatus& cur = *v.latest;
  s["restartCount"] = cur.metadata().attempt();
  s["imageID"] = cur.image_ref();
  s["containerID"] = container_id(view, cur);
  if (v.previous && v.previous->state() == v1::CONTAINER_EXITED)
    s["lastState"] = terminated_state(view, *v.previous);
  switch (cur.state()) {
    case v1::CONTAINER_RUNNING:
      s["state"] = {{"running", {{"startedAt", time_or_null(cur.started_at())}}}};
      s["ready"] = (!init || is_sidecar(spec)) && v.started && v.ready;
      s["started"] = v.started;
      break;
    case v1::CONTAINER_EXITED:
      if (!v.waiting_reason.empty()) {
        // Waiting to be started again: what it ended with is its last state.
        s["state"] = waiting_state(v.waiting_reason, v.waiting_message);
        s["lastState"] = terminated_state(view, cur);
      } else {
        s["state"] = terminated_state(view, cur);
        s["ready"] = init && cur.exit_code() == 0;  // a completed init container counts as ready
      }
      break;
    case v1::CONTAINER_CREATED:
      s["state"] =
          waiting_state(v.waiting_reason.empty() ? "ContainerCreating" : v.waiting_reason, v.waiting_message);
      break;
    default:
      s["state"] =
          waiting_state("ContainerStatusUnknown", "The container state could not be read from the runtime");
      break;
  }
  return s;
}

Json condition(const Json& old_status, const std::string& type, bool ok, const std::string& reason,
               const std::string& message, const std::string& now) {
  std::string status = ok ? "True" : "False";
  std::string since = now;
  const Json& old = json_at(old_status, "conditions");
  for (const Json& c : array_or_empty(old)) {
    if (json_string(c, "type") == type && json_string(c, "status") == status)
      since = json_string(c, "lastTransitionTime", now);
  }
  Json c = {{"type", type}, {"status", status}, {"lastProbeTime", nullptr}, {"lastTransitionTime", since}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

std::string joined(const std::vector<std::string>& names) {
  return "[" + fmt::format("{}", fmt::join(names, " ")) + "]";
}

Json conditions(const Json& pod, const PodView& view, const std::string& phase, const std::string& now) {
  const Json& old = json_at(pod, "status");
  bool completed = phase == "Succeeded" || phase == "Failed";
  std::vector<std::string> uninitialized, unready;
  const Json& inits = pod_containers(pod, true);
  for (const Json& c : array_or_empty(inits)) {
    std::string name = json_string(c, "name");
    if (!init_done(c, view_of(view, name).latest)) uninitialized.push_back(name);
  }
  for (auto& name : container_names(pod, false))
    if (const ContainerView& cv = view_of(view, name);
        !running(cv.latest) || !cv.waiting_reason.empty() || !cv.started || !cv.ready)
      unready.push_back(name);
  bool initialized = uninitialized.empty() || phase == "Succeeded";
  bool ready = unready.empty() && !completed;

  Json out = Json::array();
  out.push_back(condition(old, "PodReadyToStartContainers", view.sandbox_ready, "", "", now));
  out.push_back(condition(old, "Initialized", initialized,
                          initialized ? (completed ? "PodCompleted" : "") : "ContainersNotInitialized",
                          initialized ? "" : "containers with incomplete status: " + joined(uninitialized),
                          now));
  std::string unready_reason = completed ? "PodCompleted" : "ContainersNotReady";
  std::string unready_message = completed ? "" : "containers with unready status: " + joined(unready);
  out.push_back(
      condition(old, "Ready", ready, ready ? "" : unready_reason, ready ? "" : unready_message, now));
  out.push_back(condition(old, "ContainersReady", ready, ready ? "" : unready_reason,
                          ready ? "" : unready_message, now));
  out.push_back(condition(old, "PodScheduled", true, "", "", now));
  return out;
}

Json ip_list(const std::vector<std::string>& ips) {
  Json out = Json::array();
  for (auto& ip : ips) out.push_back({{"ip", ip}});
  return out;
}

}  // namespace

std::string rfc3339(int64_t unix_nanos) {
  time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return rfc3339(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

std::optional<int64_t> parse_rfc3339(const std::string& text) {
  struct tm tm {};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  std::string rest = text.substr(consumed);
  if (!rest.empty() && rest[0] == '.') rest.erase(0, rest.find_first_not_of("0123456789", 1));
  if (rest != "Z") return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string pod_phase(const Json& pod, const PodView& view) {
  std::string old = json_string(json_at(pod, "status"), "phase");
  if (old == "Succeeded" || old == "Failed") return old;  // a terminal phase is never left
  std::string policy = restart_policy(pod);
  const Json& inits = pod_containers(pod, true);
  for (const Json& c : array_or_empty(inits)) {
    const auto& latest = view_of(view, json_string(c, "name")).latest;
    if (init_done(c, latest)) continue;
    if (policy == "Never" && exited(latest) && !is_sidecar(c)) return "Failed";
    return "Pending";
  }
  int running_count = 0, waiting = 0, stopped = 0, succeeded = 0;
  auto names = container_names(pod, false);
  for (auto& name : names) {
    const ContainerView& v = view_of(view, name);
    // A container about to be started again counts by how its last run ended, as in kubelet.
    const auto& last = exited(v.latest) ? v.latest : exited(v.previous) ? v.previous : std::nullopt;
    if (running(v.latest)) {
      ++running_count;
    } else if (last) {
      ++stopped;
      if (last->exit_code() == 0) ++succeeded;
    } else {
      ++waiting;
    }
  }
  if (waiting > 0) return "Pending";
  if (running_count > 0) return "Running";
  if (stopped == 0) return "Pending";
  if (policy == "Always") return "Running";
  if (stopped == succeeded) return "Succeeded";
  if (policy == "OnFailure") return "Running";
  return "Failed";
}

Json make_pod_status(const Json& pod, const PodView& view, const std::string& now,
                     const std::optional<PodFailure>& failure) {
  const Json& old = json_at(pod, "status");
  Json s = old.is_object() ? old : Json::object();
  std::string phase = failure ? "Failed" : pod_phase(pod, view);
  if (failure) {
    s["reason"] = failure->reason;
    s["message"] = failure->message;
  }
  s["phase"] = phase;
  s["conditions"] = conditions(pod, view, phase, now);
  if (!view.host_ip.empty()) {
    s["hostIP"] = view.host_ip;
    s["hostIPs"] = ip_list({view.host_ip});
  }
  // Without a sandbox the last known IPs stay (a finished pod keeps its podIP).
  if (!view.pod_ips.empty()) {
    s["podIP"] = view.pod_ips.front();
    s["podIPs"] = ip_list(view.pod_ips);
  }
  if (!s.contains("startTime") || !s["startTime"].is_string()) s["startTime"] = now;
  if (!s.contains("qosClass")) s["qosClass"] = qos_class(pod);

  bool all_init_done = true;
  Json init_statuses = Json::array();
  const Json& inits = pod_containers(pod, true);
  for (const Json& c : array_or_empty(inits)) {
    const ContainerView& v = view_of(view, json_string(c, "name"));
    init_statuses.push_back(container_status(c, v, view, true, "PodInitializing"));
    if (!init_done(c, v.latest)) all_init_done = false;
  }
  if (!init_statuses.empty()) s["initContainerStatuses"] = init_statuses;
  Json statuses = Json::array();
  const Json& apps = pod_containers(pod, false);
  for (const Json& c : array_or_empty(apps)) {
    const ContainerView& v = view_of(view, json_string(c, "name"));
    statuses.push_back(
        container_status(c, v, view, false, all_init_done ? "ContainerCreating" : "PodInitializing"));
  }
  s["containerStatuses"] = statuses;
  return s;
}

}  // namespace deckhand::agent
