#include "deckhand/api/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "deckhand/api/selector.h"
#include "deckhand/common/text.h"

namespace deckhand::api {

namespace {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// ---- reading JSON without throwing ----

const Json& null_json() {
  static const Json kNull;
  return kNull;
}

const Json& member(const Json& j, const char* key) {
  if (!j.is_object()) return null_json();
  auto it = j.find(key);
  return it == j.end() ? null_json() : *it;
}

const Json& at(const Json& j, std::initializer_list<const char*> path) {
  const Json* cur = &j;
  for (const char* key : path) cur = &member(*cur, key);
  return *cur;
}

std::string text(const Json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }
std::string text(const Json& j, std::initializer_list<const char*> path) { return text(at(j, path)); }

int64_t integer(const Json& j, int64_t fallback = 0) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) {
    const double d = j.get<double>();
    // Out-of-range casts are undefined; such counts are junk anyway.
    return d > -9.2e18 && d < 9.2e18 ? static_cast<int64_t>(d) : fallback;
  }
  return fallback;
}

const Json& list(const Json& j, std::initializer_list<const char*> path) {
  static const Json kEmpty = Json::array();
  const Json& v = at(j, path);
  return v.is_array() ? v : kEmpty;
}

std::string or_text(std::string s, const char* fallback) { return s.empty() ? fallback : s; }

// ---- time ----

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
  return ec == std::errc() && end == s.data() + pos + len;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed).
std::optional<TimePoint> parse_time(const Json& j) {
  if (!j.is_string()) return std::nullopt;
  std::string_view s = j.get_ref<const std::string&>();
  int year, month, day, hour, minute, second;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':' || !read_int(s, 0, 4, year) || !read_int(s, 5, 2, month) || !read_int(s, 8, 2, day) ||
      !read_int(s, 11, 2, hour) || !read_int(s, 14, 2, minute) || !read_int(s, 17, 2, second)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < s.size() && s[pos] == '.') {
    int64_t scale = 100000000;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
      fraction += std::chrono::nanoseconds((s[pos] - '0') * scale);
    }
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!read_int(s, pos + 1, 2, oh) || s.size() != pos + 6 || s[pos + 3] != ':' || !read_int(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_minutes = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
  } else if (pos + 1 != s.size() || (s[pos] != 'Z' && s[pos] != 'z')) {
    return std::nullopt;
  }
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                       offset_minutes * 60;
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(secs) + fraction));
}

// Kubernetes' translateTimestampSince.
std::string since(const Json& timestamp, TimePoint now) {
  auto t = parse_time(timestamp);
  if (!t) return "<unknown>";
  return human_duration(now - *t);
}

std::string rfc3339_utc(const Json& timestamp) {
  auto t = parse_time(timestamp);
  if (!t) return "0001-01-01T00:00:00Z";  // Go's zero time, as Kubernetes prints a missing one
  std::time_t tt = Clock::to_time_t(*t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---- columns ----

struct Column {
  const char* name;
  const char* type;
  const char* description;
  int priority = 0;
  const char* format = "";
};

const Column kName{"Name", "string", "Name must be unique within a namespace.", 0, "name"};
const Column kAge{"Age", "string", "Time since the object was created (metadata.creationTimestamp)."};
const Column kContainers{"Containers", "string", "Names of each container in the template.", 1};
const Column kImages{"Images", "string", "Images referenced by each container in the template.", 1};
const Column kSelector{"Selector", "string", "Label selector for the pods.", 1};

using Cells = Json;  // an array
struct Printer {
  std::vector<Column> columns;
  std::function<Json(const Json& object, TimePoint now)> row;  // {"cells": [...], "conditions"?: [...]}
};

Json row_of(Cells cells) { return Json{{"cells", std::move(cells)}}; }

std::string name_of(const Json& o) { return text(o, {"metadata", "name"}); }
std::string age_of(const Json& o, TimePoint now) { return since(at(o, {"metadata", "creationTimestamp"}), now); }

// "a=b,c=d" sorted, or "<none>" (labels.FormatLabels).
std::string format_labels(const Json& labels) {
  std::vector<std::string> parts;
  if (labels.is_object()) {
    for (const auto& [k, v] : labels.items()) parts.push_back(k + "=" + text(v));
  }
  return parts.empty() ? "<none>" : fmt::format("{}", fmt::join(parts, ","));
}

std::string selector_text(const Json& selector) {
  auto s = LabelSelector::from_json(selector);
  return s ? s->to_string() : "<invalid>";
}

std::pair<std::string, std::string> container_cells(const Json& containers) {
  std::vector<std::string> names, images;
  if (containers.is_array()) {
    for (const auto& c : containers) {
      names.push_back(text(member(c, "name")));
      images.push_back(text(member(c, "image")));
    }
  }
  return {fmt::format("{}", fmt::join(names, ",")), fmt::format("{}", fmt::join(images, ","))};
}

// ---- pods ----

bool has_condition(const Json& pod, const char* type) {
  for (const auto& c : list(pod, {"status", "conditions"})) {
    if (text(member(c, "type")) == type) return text(member(c, "status")) == "True";
  }
  return false;
}

struct RestartTally {
  int64_t count = 0;
  std::optional<TimePoint> last;

  void add(const Json& status) {
    count += integer(member(status, "restartCount"));
    auto finished = parse_time(at(status, {"lastState", "terminated", "finishedAt"}));
    if (finished && (!last || *last < *finished)) last = finished;
  }
};

std::string exit_reason(const Json& terminated) {
  std::string reason = text(member(terminated, "reason"));
  if (!reason.empty()) return reason;
  int64_t signal = integer(member(terminated, "signal"));
  if (signal != 0) return fmt::format("Signal:{}", signal);
  return fmt::format("ExitCode:{}", integer(member(terminated, "exitCode")));
}

struct PodState {
  std::string reason;
  int64_t ready = 0;
  int64_t total = 0;
  RestartTally restarts;
};

bool is_sidecar(const Json& pod, const std::string& name) {
  for (const auto& c : list(pod, {"spec", "initContainers"})) {
    if (text(member(c, "name")) == name) return text(member(c, "restartPolicy")) == "Always";
  }
  return false;
}

// Walks init containers as kubectl does; true while the pod is still initializing.
bool tally_init_containers(const Json& pod, PodState& state, RestartTally& sidecar_restarts) {
  const auto& specs = list(pod, {"spec", "initContainers"});
  const auto& statuses = list(pod, {"status", "initContainerStatuses"});
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const Json& s = statuses[i];
    const bool sidecar = is_sidecar(pod, text(member(s, "name")));
    state.restarts.add(s);
    if (sidecar) sidecar_restarts.add(s);
    const Json& terminated = at(s, {"state", "terminated"});
    const std::string waiting = text(s, {"state", "waiting", "reason"});
    if (terminated.is_object() && integer(member(terminated, "exitCode")) == 0) continue;
    if (sidecar && member(s, "started").is_boolean() && member(s, "started").get<bool>()) {
      if (member(s, "ready").is_boolean() && member(s, "ready").get<bool>()) ++state.ready;
      continue;
    }
    if (terminated.is_object()) {
      state.reason = "Init:" + exit_reason(terminated);
    } else if (!waiting.empty() && waiting != "PodInitializing") {
      state.reason = "Init:" + waiting;
    } else {
      state.reason = fmt::format("Init:{}/{}", i, specs.size());
    }
    return true;
  }
  return false;
}

void tally_containers(const Json& pod, PodState& state) {
  const auto& statuses = list(pod, {"status", "containerStatuses"});
  bool has_running = false;
  // Backwards, so that the first container's state wins, as in kubectl.
  for (std::size_t n = statuses.size(); n-- > 0;) {
    const Json& s = statuses[n];
    state.restarts.add(s);
    const Json& terminated = at(s, {"state", "terminated"});
    const std::string waiting = text(s, {"state", "waiting", "reason"});
    const bool ready = member(s, "ready").is_boolean() && member(s, "ready").get<bool>();
    if (!waiting.empty()) {
      state.reason = waiting;
    } else if (terminated.is_object()) {
      state.reason = exit_reason(terminated);
    } else if (ready && at(s, {"state", "running"}).is_object()) {
      has_running = true;
      ++state.ready;
    }
  }
  if (state.reason == "Completed" && has_running) {
    state.reason = has_condition(pod, "Ready") ? "Running" : "NotReady";
  }
}

PodState pod_state(const Json& pod) {
  PodState state;
  const std::string phase = text(pod, {"status", "phase"});
  state.reason = or_text(text(pod, {"status", "reason"}), phase.c_str());
  for (const auto& c : list(pod, {"status", "conditions"})) {
    if (text(member(c, "type")) == "PodScheduled" && text(member(c, "reason")) == "SchedulingGated") {
      state.reason = "SchedulingGated";
    }
  }
  state.total = static_cast<int64_t>(list(pod, {"spec", "containers"}).size());
  for (const auto& c : list(pod, {"spec", "initContainers"})) {
    if (text(member(c, "restartPolicy")) == "Always") ++state.total;
  }
  RestartTally sidecar_restarts;
  const bool initializing = tally_init_containers(pod, state, sidecar_restarts);
  if (!initializing || has_condition(pod, "Initialized")) {
    state.restarts = sidecar_restarts;  // only sidecars count once the pod is initialized
    tally_containers(pod, state);
  }
  const bool deleting = at(pod, {"metadata", "deletionTimestamp"}).is_string();
  if (deleting && text(pod, {"status", "reason"}) == "NodeLost") {
    state.reason = "Unknown";
  } else if (deleting && phase != "Succeeded" && phase != "Failed") {
    state.reason = "Terminating";
  }
  return state;
}

std::string readiness_gates(const Json& pod) {
  const auto& gates = list(pod, {"spec", "readinessGates"});
  if (gates.empty()) return "<none>";
  int true_count = 0;
  for (const auto& gate : gates) {
    const std::string type = text(member(gate, "conditionType"));
    for (const auto& c : list(pod, {"status", "conditions"})) {
      if (text(member(c, "type")) != type) continue;
      if (text(member(c, "status")) == "True") ++true_count;
      break;
    }
  }
  return fmt::format("{}/{}", true_count, gates.size());
}

Json pod_row(const Json& pod, TimePoint now) {
  PodState state = pod_state(pod);
  std::string restarts = std::to_string(state.restarts.count);
  if (state.restarts.count != 0 && state.restarts.last) {
    restarts += " (" + human_duration(now - *state.restarts.last) + " ago)";
  }
  std::string ip = text(pod, {"status", "podIP"});
  const auto& ips = list(pod, {"status", "podIPs"});
  if (!ips.empty()) ip = text(member(ips[0], "ip"));
  Json row = row_of({name_of(pod), fmt::format("{}/{}", state.ready, state.total), state.reason, restarts,
                     age_of(pod, now), or_text(ip, "<none>"), or_text(text(pod, {"spec", "nodeName"}), "<none>"),
                     or_text(text(pod, {"status", "nominatedNodeName"}), "<none>"), readiness_gates(pod)});
  const std::string phase = text(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") {
    const bool ok = phase == "Succeeded";
    row["conditions"] = Json::array({Json{{"type", "Completed"},
                                          {"status", "True"},
                                          {"reason", phase},
                                          {"message", ok ? "The pod has completed successfully." : "The pod failed."}}});
  }
  return row;
}

// ---- nodes ----

std::string node_address(const Json& node, const char* type) {
  for (const auto& a : list(node, {"status", "addresses"})) {
    if (text(member(a, "type")) == type) return text(member(a, "address"));
  }
  return "<none>";
}

std::string node_roles(const Json& node) {
  static const std::string kPrefix = "node-role.kubernetes.io/";
  std::set<std::string> roles;
  const Json& labels = at(node, {"metadata", "labels"});
  if (labels.is_object()) {
    for (const auto& [k, v] : labels.items()) {
      if (k.rfind(kPrefix, 0) == 0 && k.size() > kPrefix.size()) roles.insert(k.substr(kPrefix.size()));
      if (k == "kubernetes.io/role" && !text(v).empty()) roles.insert(text(v));
    }
  }
  return roles.empty() ? "<none>" : fmt::format("{}", fmt::join(roles, ","));
}

Json node_row(const Json& node, TimePoint now) {
  std::string status = "Unknown";
  for (const auto& c : list(node, {"status", "conditions"})) {
    if (text(member(c, "type")) == "Ready") status = text(member(c, "status")) == "True" ? "Ready" : "NotReady";
  }
  const Json& unschedulable = at(node, {"spec", "unschedulable"});
  if (unschedulable.is_boolean() && unschedulable.get<bool>()) status += ",SchedulingDisabled";
  const Json& info = at(node, {"status", "nodeInfo"});
  return row_of({name_of(node), status, node_roles(node), age_of(node, now), text(member(info, "kubeletVersion")),
                 node_address(node, "InternalIP"), node_address(node, "ExternalIP"),
                 or_text(text(member(info, "osImage")), "<unknown>"),
                 or_text(text(member(info, "kernelVersion")), "<unknown>"),
                 or_text(text(member(info, "containerRuntimeVersion")), "<unknown>")});
}

// ---- workloads ----

Json deployment_row(const Json& d, TimePoint now) {
  const Json& status = member(d, "status");
  auto [containers, images] = container_cells(at(d, {"spec", "template", "spec", "containers"}));
  return row_of({name_of(d),
                 fmt::format("{}/{}", integer(member(status, "readyReplicas")),
                             integer(at(d, {"spec", "replicas"}), 1)),
                 integer(member(status, "updatedReplicas")), integer(member(status, "availableReplicas")),
                 age_of(d, now), containers, images, selector_text(at(d, {"spec", "selector"}))});
}

Json replicaset_row(const Json& rs, TimePoint now) {
  const Json& status = member(rs, "status");
  auto [containers, images] = container_cells(at(rs, {"spec", "template", "spec", "containers"}));
  return row_of({name_of(rs), integer(at(rs, {"spec", "replicas"}), 1), integer(member(status, "replicas")),
                 integer(member(status, "readyReplicas")), age_of(rs, now), containers, images,
                 selector_text(at(rs, {"spec", "selector"}))});
}

Json daemonset_row(const Json& ds, TimePoint now) {
  const Json& status = member(ds, "status");
  auto [containers, images] = container_cells(at(ds, {"spec", "template", "spec", "containers"}));
  return row_of({name_of(ds), integer(member(status, "desiredNumberScheduled")),
                 integer(member(status, "currentNumberScheduled")), integer(member(status, "numberReady")),
                 integer(member(status, "updatedNumberScheduled")), integer(member(status, "numberAvailable")),
                 format_labels(at(ds, {"spec", "template", "spec", "nodeSelector"})), age_of(ds, now), containers,
                 images, selector_text(at(ds, {"spec", "selector"}))});
}

// kubectl's job columns: a status from the conditions, "succeeded/completions",
// and how long it ran (to its completion, or until now).
Json job_row(const Json& job, TimePoint now) {
  const Json& status = member(job, "status");
  std::string state = "Running";
  for (const auto& c : list(job, {"status", "conditions"})) {
    if (text(member(c, "status")) != "True") continue;
    std::string type = text(member(c, "type"));
    if (type == "Complete" || type == "Failed" || type == "Suspended") state = type;
  }
  if (!at(job, {"metadata", "deletionTimestamp"}).is_null()) state = "Terminating";
  const Json& completions = at(job, {"spec", "completions"});
  std::string done = std::to_string(integer(member(status, "succeeded")));
  std::string of = completions.is_number_integer() ? done + "/" + std::to_string(completions.get<int64_t>())
                                                   : done + "/1 of " + std::to_string(integer(at(job, {"spec", "parallelism"}), 1));
  std::string duration;
  if (auto start = parse_time(member(status, "startTime"))) {
    auto end = parse_time(member(status, "completionTime"));
    duration = human_duration((end ? *end : now) - *start);
  }
  auto [containers, images] = container_cells(at(job, {"spec", "template", "spec", "containers"}));
  return row_of({name_of(job), state, of, duration, age_of(job, now), containers, images,
                 selector_text(at(job, {"spec", "selector"}))});
}

Json controllerrevision_row(const Json& cr, TimePoint now) {
  std::string controller = "<none>";
  for (const auto& ref : list(cr, {"metadata", "ownerReferences"})) {
    const Json& is_controller = member(ref, "controller");
    if (!is_controller.is_boolean() || !is_controller.get<bool>()) continue;
    // "daemonset.apps/name": the kind, lower-cased, with its group.
    std::string api_version = text(member(ref, "apiVersion"));
    auto slash = api_version.find('/');
    std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    std::string kind = text(member(ref, "kind"));
    std::string qualified = ascii_lower(group.empty() ? kind : kind + "." + group);
    controller = qualified.empty() ? text(member(ref, "name")) : qualified + "/" + text(member(ref, "name"));
    break;
  }
  return row_of({name_of(cr), controller, integer(member(cr, "revision")), age_of(cr, now)});
}

// ---- services and endpoints ----

std::string joined_strings(const Json& values) {
  std::vector<std::string> parts;
  if (values.is_array()) {
    for (const auto& v : values) parts.push_back(text(v));
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

std::string service_external_ip(const Json& svc) {
  const std::string type = text(svc, {"spec", "type"});
  const std::string external = joined_strings(at(svc, {"spec", "externalIPs"}));
  if (type == "ClusterIP" || type == "NodePort" || type.empty()) return or_text(external, "<none>");
  if (type == "ExternalName") return text(svc, {"spec", "externalName"});
  if (type == "LoadBalancer") {
    std::vector<std::string> parts;
    for (const auto& ingress : list(svc, {"status", "loadBalancer", "ingress"})) {
      std::string ip = text(member(ingress, "ip"));
      std::string host = text(member(ingress, "hostname"));
      if (!ip.empty()) parts.push_back(ip);
      else if (!host.empty()) parts.push_back(host);
    }
    if (!external.empty()) parts.push_back(external);
    return parts.empty() ? "<pending>" : fmt::format("{}", fmt::join(parts, ","));
  }
  return "<unknown>";
}

std::string service_ports(const Json& svc) {
  std::vector<std::string> parts;
  for (const auto& p : list(svc, {"spec", "ports"})) {
    const std::string protocol = or_text(text(member(p, "protocol")), "TCP");
    const int64_t node_port = integer(member(p, "nodePort"));
    const int64_t port = integer(member(p, "port"));
    parts.push_back(node_port > 0 ? fmt::format("{}:{}/{}", port, node_port, protocol)
                                  : fmt::format("{}/{}", port, protocol));
  }
  return parts.empty() ? "<none>" : fmt::format("{}", fmt::join(parts, ","));
}

Json service_row(const Json& svc, TimePoint now) {
  std::string cluster_ip = text(svc, {"spec", "clusterIP"});
  const auto& ips = list(svc, {"spec", "clusterIPs"});
  if (!ips.empty()) cluster_ip = text(ips[0]);
  return row_of({name_of(svc), text(svc, {"spec", "type"}), or_text(cluster_ip, "<none>"), service_external_ip(svc),
                 service_ports(svc), age_of(svc, now), format_labels(at(svc, {"spec", "selector"}))});
}

std::string host_port(const std::string& ip, int64_t port) {
  return ip.find(':') != std::string::npos ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port);
}

std::string endpoints_text(const Json& ep) {
  const auto& subsets = list(ep, {"subsets"});
  if (subsets.empty()) return "<none>";
  constexpr std::size_t kMax = 3;
  std::vector<std::string> shown;
  std::size_t count = 0;
  for (const auto& subset : subsets) {
    const auto& addresses = list(subset, {"addresses"});
    const auto& ports = list(subset, {"ports"});
    // Headless services may have addresses without ports.
    const std::size_t rounds = ports.empty() ? 1 : ports.size();
    for (std::size_t p = 0; p < rounds; ++p) {
      count += addresses.size();
      for (const auto& a : addresses) {
        if (shown.size() == kMax) break;
        const std::string ip = text(member(a, "ip"));
        shown.push_back(ports.empty() ? ip : host_port(ip, integer(member(ports[p], "port"))));
      }
    }
  }
  std::string out = fmt::format("{}", fmt::join(shown, ","));
  if (count > shown.size()) out += fmt::format(" + {} more...", count - shown.size());
  return out;
}

Json endpoints_row(const Json& ep, TimePoint now) { return row_of({name_of(ep), endpoints_text(ep), age_of(ep, now)}); }

// ---- events ----

std::string first_non_empty(std::string a, std::string b) { return a.empty() ? b : a; }

Json event_row(const Json& ev, TimePoint now) {
  std::string first_seen = parse_time(member(ev, "firstTimestamp")) ? since(member(ev, "firstTimestamp"), now)
                                                                     : since(member(ev, "eventTime"), now);
  std::string last_seen =
      parse_time(member(ev, "lastTimestamp")) ? since(member(ev, "lastTimestamp"), now) : first_seen;
  int64_t count = integer(member(ev, "count"));
  const Json& series = member(ev, "series");
  if (series.is_object()) {
    last_seen = since(member(series, "lastObservedTime"), now);
    count = integer(member(series, "count"));
  } else if (count == 0) {
    count = 1;  // singleton events of the new API carry no count
  }
  const Json& involved = member(ev, "involvedObject");
  std::string kind = ascii_lower(text(member(involved, "kind")));
  const std::string involved_name = text(member(involved, "name"));
  const std::string object = involved_name.empty() ? kind : kind + "/" + involved_name;
  const std::string component = first_non_empty(text(ev, {"source", "component"}), text(member(ev, "reportingComponent")));
  const std::string instance = first_non_empty(text(ev, {"source", "host"}), text(member(ev, "reportingInstance")));
  const std::string source = instance.empty() ? component : component + ", " + instance;
  std::string message = text(member(ev, "message"));
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  message.erase(message.begin(), std::find_if(message.begin(), message.end(), not_space));
  message.erase(std::find_if(message.rbegin(), message.rend(), not_space).base(), message.end());
  return row_of({last_seen, text(member(ev, "type")), text(member(ev, "reason")), object,
                 text(member(involved, "fieldPath")), source, message, first_seen, count, name_of(ev)});
}

// ---- small kinds ----

std::size_t map_size(const Json& j) { return j.is_object() ? j.size() : 0; }

Json namespace_row(const Json& ns, TimePoint now) {
  return row_of({name_of(ns), text(ns, {"status", "phase"}), age_of(ns, now)});
}
Json configmap_row(const Json& cm, TimePoint now) {
  return row_of({name_of(cm), map_size(member(cm, "data")) + map_size(member(cm, "binaryData")), age_of(cm, now)});
}
Json secret_row(const Json& s, TimePoint now) {
  return row_of({name_of(s), text(member(s, "type")), map_size(member(s, "data")), age_of(s, now)});
}
Json serviceaccount_row(const Json& sa, TimePoint now) {
  return row_of({name_of(sa), list(sa, {"secrets"}).size(), age_of(sa, now)});
}
Json lease_row(const Json& l, TimePoint now) {
  return row_of({name_of(l), text(l, {"spec", "holderIdentity"}), age_of(l, now)});
}
Json default_row(const Json& o, TimePoint) {
  return row_of({name_of(o), rfc3339_utc(at(o, {"metadata", "creationTimestamp"}))});
}

// ---- the printers by resource ----

const Printer& printer_for(const std::string& resource) {
  static const Column kReady{"Ready", "string", "Ready pods over desired pods."};
  static const std::map<std::string, Printer> kPrinters = {
      {"pods",
       {{kName,
         {"Ready", "string", "Ready containers over all containers."},
         {"Status", "string", "The aggregate status of the containers in this pod."},
         {"Restarts", "string", "Container restarts, and how long ago the last one was."},
         kAge,
         {"IP", "string", "The pod's IP address.", 1},
         {"Node", "string", "The node the pod is bound to.", 1},
         {"Nominated Node", "string", "The node nominated by preemption, if any.", 1},
         {"Readiness Gates", "string", "Readiness gates that are true, over all of them.", 1}},
        pod_row}},
      {"nodes",
       {{kName,
         {"Status", "string", "The node's readiness and schedulability."},
         {"Roles", "string", "The node's roles from node-role.kubernetes.io/ labels."},
         kAge,
         {"Version", "string", "Kubelet version the node reports."},
         {"Internal-IP", "string", "The node's first InternalIP address.", 1},
         {"External-IP", "string", "The node's first ExternalIP address.", 1},
         {"OS-Image", "string", "The operating system image the node reports.", 1},
         {"Kernel-Version", "string", "The kernel version the node reports.", 1},
         {"Container-Runtime", "string", "The container runtime and version the node reports.", 1}},
        node_row}},
      {"namespaces", {{kName, {"Status", "string", "The namespace's phase."}, kAge}, namespace_row}},
      {"deployments",
       {{kName, kReady,
         {"Up-to-date", "integer", "Pods updated to the current template."},
         {"Available", "integer", "Pods available for at least minReadySeconds."}, kAge, kContainers, kImages,
         kSelector},
        deployment_row}},
      {"replicasets",
       {{kName,
         {"Desired", "integer", "Desired number of pods."},
         {"Current", "integer", "Number of pods that exist."},
         {"Ready", "integer", "Number of ready pods."}, kAge, kContainers, kImages, kSelector},
        replicaset_row}},
      {"daemonsets",
       {{kName,
         {"Desired", "integer", "Nodes that should run the daemon pod."},
         {"Current", "integer", "Nodes that run the daemon pod."},
         {"Ready", "integer", "Nodes whose daemon pod is ready."},
         {"Up-to-date", "integer", "Nodes that run the current template."},
         {"Available", "integer", "Nodes whose daemon pod is available."},
         {"Node Selector", "string", "The pod template's node selector."}, kAge, kContainers, kImages,
         kSelector},
        daemonset_row}},
      {"jobs",
       {{kName,
         {"Status", "string", "Status of the job."},
         {"Completions", "string", "The desired number of successfully finished pods the job should be run with."},
         {"Duration", "string", "Time required to complete the job."}, kAge, kContainers, kImages, kSelector},
        job_row}},
      {"services",
       {{kName,
         {"Type", "string", "How the service is exposed."},
         {"Cluster-IP", "string", "The service's cluster IP address."},
         {"External-IP", "string", "External addresses of the service."},
         {"Port(s)", "string", "Ports the service exposes."}, kAge,
         {"Selector", "string", "Labels of the pods the service routes to.", 1}},
        service_row}},
      {"endpoints",
       {{kName, {"Endpoints", "string", "Addresses and ports of the endpoints."}, kAge}, endpoints_row}},
      {"events",
       {{{"Last Seen", "string", "When the event was last seen."},
         {"Type", "string", "Type of the event (Normal, Warning)."},
         {"Reason", "string", "Why the event happened."},
         {"Object", "string", "The object the event is about."},
         {"Subobject", "string", "The part of the object the event is about.", 1},
         {"Source", "string", "The component that reported the event.", 1},
         {"Message", "string", "What happened."},
         {"First Seen", "string", "When the event was first seen.", 1},
         {"Count", "string", "How often the event happened.", 1},
         {"Name", "string", "Name of the event.", 1, "name"}},
        event_row}},
      {"configmaps", {{kName, {"Data", "integer", "Number of data entries."}, kAge}, configmap_row}},
      {"secrets",
       {{kName, {"Type", "string", "The secret's type."}, {"Data", "integer", "Number of data entries."}, kAge},
        secret_row}},
      {"serviceaccounts", {{kName, {"Secrets", "integer", "Number of secrets listed."}, kAge}, serviceaccount_row}},
      {"leases", {{kName, {"Holder", "string", "The lease's current holder."}, kAge}, lease_row}},
      {"controllerrevisions",
       {{kName,
         {"Controller", "string", "The controller that owns the revision."},
         {"Revision", "integer", "The revision number."}, kAge},
        controllerrevision_row}},
  };
  // Kubernetes' default table for resources without printers.
  static const Printer kDefault{
      {kName, {"Created At", "date", "When the object was created (metadata.creationTimestamp)."}}, default_row};
  auto it = kPrinters.find(resource);
  return it == kPrinters.end() ? kDefault : it->second;
}

Json column_json(const Column& c) {
  return Json{{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", c.description},
              {"priority", c.priority}};
}

}  // namespace

Json make_table(const TableRequest& request, const std::vector<Json>& objects, const Json& list_metadata) {
  const Printer& printer = printer_for(request.resource);
  Json columns = Json::array();
  for (const auto& c : printer.columns) columns.push_back(column_json(c));
  Json rows = Json::array();
  for (const auto& object : objects) {
    Json row = printer.row(object, request.now);
    if (request.include_full_object) {
      row["object"] = object;
    } else if (request.include_object_metadata) {
      const Json& metadata = member(object, "metadata");
      row["object"] = Json{{"kind", "PartialObjectMetadata"},
                           {"apiVersion", "meta.k8s.io/v1"},
                           {"metadata", metadata.is_object() ? metadata : Json::object()}};
    }
    rows.push_back(std::move(row));
  }
  return Json{{"kind", "Table"},
              {"apiVersion", "meta.k8s.io/v1"},
              {"metadata", list_metadata.is_object() ? list_metadata : Json::object()},
              {"columnDefinitions", std::move(columns)},
              {"rows", std::move(rows)}};
}

std::string human_duration(std::chrono::system_clock::duration d) {
  using namespace std::chrono;
  // Up to a second into the future counts as now (clock skew).
  const int64_t seconds = duration_cast<std::chrono::seconds>(d).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return fmt::format("{}s", seconds);
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return s == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, s);
  }
  if (minutes < 60 * 3) return fmt::format("{}m", minutes);
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return m == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, m);
  }
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return h == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, h);
  }
  if (hours < 24 * 365 * 2) return fmt::format("{}d", hours / 24);
  if (hours < 24 * 365 * 8) {
    const int64_t dy = (hours / 24) % 365;
    return dy == 0 ? fmt::format("{}y", hours / 24 / 365) : fmt::format("{}y{}d", hours / 24 / 365, dy);
  }
  return fmt::format("{}y", hours / 24 / 365);
}

}  // namespace deckhand::api
