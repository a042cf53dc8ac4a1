#include "deckhand/agent/node_server.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>
#include <mutex>

#include "container_logs.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/common/text.h"
#include "deckhand/http/pki.h"
#include "deckhand/http/server.h"
#include "pod_config.h"

namespace deckhand::agent {

namespace {

namespace rt = ::runtime::v1;

std::shared_ptr<spdlog::logger> logger() { return log::get("agent-server"); }

const char* kTextPlain = "text/plain; charset=utf-8";

// An answer other than 200, as kubelet gives it: a code and a line of text.
struct HttpError {
  int code = 500;
  std::string message;
};
template <typename T>
using HttpResult = tl::expected<T, HttpError>;

tl::unexpected<HttpError> http_fail(int code, std::string message) {
  return tl::unexpected<HttpError>(HttpError{code, std::move(message)});
}

void send_text(http::Responder& out, int code, std::string text) {
  if (text.empty() || text.back() != '\n') text += '\n';
  out.send({code, {{"Content-Type", kTextPlain}}, std::move(text)});
}

void send_json(http::Responder& out, const Json& body) {
  out.send({200, {{"Content-Type", "application/json"}}, body.dump() + "\n"});
}

int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---- the serving certificate ----

// The addresses of the up interfaces, for the self-signed certificate.
std::vector<std::string> host_addresses() {
  std::vector<std::string> out{"127.0.0.1"};
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& ip6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(&ip6)) continue;
      ::inet_ntop(AF_INET6, &ip6, text, sizeof text);
    } else {
      continue;
    }
    if (text[0] && std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  ::freeifaddrs(list);
  return out;
}

// Without a configured certificate, kubelet serves with one it signs itself
// and keeps in its state; so do we: <state_dir>/pki/<node>.crt and .key,
// made once and reused across restarts.
Status use_self_signed_cert_if_none(NodeServerOptions& o) {
  if (!o.cert_file.empty()) return {};
  if (o.state_dir.empty())
    return fail(ErrorKind::InvalidArgument,
                "node server: no cert_file and no state_dir to keep a self-signed one in");
  const std::string name = o.node_name.empty() ? "node" : o.node_name;
  const std::string dir = o.state_dir + "/pki";
  o.cert_file = dir + "/" + name + ".crt";
  o.key_file = dir + "/" + name + ".key";
  if (fs::exists(o.cert_file) && fs::exists(o.key_file)) return {};
  DH_TRY(ca, http::make_ca(fmt::format("{}-ca@{}", name, std::time(nullptr))));
  DH_TRY(cert, http::issue_server_cert(ca, name, {name, "localhost"}, host_addresses()));
  cert.cert_pem += ca.cert_pem;  // the chain, for clients that do verify
  DH_CHECK(with_context(http::write_cert_files(dir, name, cert), "self-signed serving certificate"));
  logger()->info("made a self-signed serving certificate {}", o.cert_file);
  return {};
}

// ---- query parameters of /containerLogs ----

HttpResult<bool> bool_param(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty() || *v == "false" || *v == "0") return false;
  if (*v == "true" || *v == "1") return true;
  return http_fail(400, fmt::format("{}: invalid value {:?}: must be true or false", name, *v));
}

HttpResult<std::optional<int64_t>> int_param(const http::Request& req, const char* name, int64_t min) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<int64_t>();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size())
    return http_fail(400, fmt::format("{}: invalid value {:?}: must be an integer", name, *v));
  if (n < min)
    return http_fail(
        400, min == 0 ? fmt::format("{}: Invalid value: {}: must be greater than or equal to 0", name, n)
                      : fmt::format("{}: Invalid value: {}: must be greater than 0", name, n));
  return std::optional<int64_t>(n);
}

struct LogRequest {
  LogOptions options;
  bool previous = false;
};

HttpResult<LogRequest> parse_log_request(const http::Request& req) {
  LogRequest r;
  auto follow = bool_param(req, "follow");
  auto timestamps = bool_param(req, "timestamps");
  auto previous = bool_param(req, "previous");
  auto tail = int_param(req, "tailLines", 0);
  auto since_seconds = int_param(req, "sinceSeconds", 1);
  auto limit = int_param(req, "limitBytes", 1);
  for (const HttpError* e :
       {follow ? nullptr : &follow.error(), timestamps ? nullptr : &timestamps.error(),
        previous ? nullptr : &previous.error(), tail ? nullptr : &tail.error(),
        since_seconds ? nullptr : &since_seconds.error(), limit ? nullptr : &limit.error()})
    if (e) return tl::unexpected(*e);
  r.options.follow = *follow;
  r.options.timestamps = *timestamps;
  r.previous = *previous;
  r.options.tail_lines = *tail;
  r.options.since_seconds = *since_seconds;
  r.options.limit_bytes = *limit;
  if (auto since_time = req.query_param("sinceTime"); since_time && !since_time->empty()) {
    if (!parse_rfc3339_nanos(*since_time))
      return http_fail(400,
                       fmt::format("sinceTime: invalid value {:?}: must be an RFC 3339 time", *since_time));
    if (r.options.since_seconds)
      return http_fail(400, "at most one of `sinceTime` or `sinceSeconds` may be specified");
    r.options.since_time = *since_time;
  }
  return r;
}

// ---- pods and containers ----

std::string string_at(const Json& obj, const char* a, const char* b) {
  if (!obj.is_object() || !obj.contains(a) || !obj[a].is_object()) return "";
  const Json& inner = obj[a];
  return inner.contains(b) && inner[b].is_string() ? inner[b].get<std::string>() : "";
}

bool pod_has_container(const Json& pod, const std::string& container) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) return false;
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    const Json& spec = pod["spec"];
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const auto& c : spec[list])
      if (c.is_object() && c.value("name", "") == container) return true;
  }
  return false;
}

// The reason a container has not started yet, from the pod's status.
std::string waiting_reason(const Json& pod, const std::string& container) {
  if (pod.contains("status") && pod["status"].is_object()) {
    const Json& status = pod["status"];
    for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
      if (!status.contains(list) || !status[list].is_array()) continue;
      for (const auto& s : status[list]) {
        if (!s.is_object() || s.value("name", "") != container) continue;
        if (s.contains("state") && s["state"].is_object() && s["state"].contains("waiting"))
          return string_at(s["state"], "waiting", "reason");
      }
    }
  }
  return "ContainerCreating";
}

}  // namespace

namespace {

class RunningNodeServer : public NodeServer {
 public:
  RunningNodeServer(NodeServerOptions options, std::shared_ptr<cri::CriClient> cri, NodePodSource source)
      : options_(std::move(options)), cri_(std::move(cri)), source_(std::move(source)) {}
  ~RunningNodeServer() override {
    if (http_) http_->stop();
  }
  uint16_t port() const override { return http_->port(); }

  Status listen() {
    http::ServerOptions o;
    o.address = options_.address;
    o.port = options_.port;
    o.tls = http::TlsOptions{options_.cert_file, options_.key_file, options_.client_ca_file};
    DH_TRY(server, http::HttpServer::start(
                       o, [this](const http::Request& req, http::Responder& out) { handle(req, out); }));
    http_ = std::move(server);
    return {};
  }

 private:
  void handle(const http::Request& req, http::Responder& out) {
    if (req.path == "/healthz") return send_text(out, 200, "ok");
    if (!req.peer.has_client_cert) return send_text(out, 401, "Unauthorized");
    if (!allowed(req.peer)) {
      std::string sub = req.path.rfind("/stats", 0) == 0 ? "stats" : "proxy";
      return send_text(out, 403,
                       fmt::format("Forbidden (user={}, verb={}, resource=nodes, subresource={})",
                                   req.peer.user, req.method == "GET" ? "get" : req.method, sub));
    }
    auto segments = split_nonempty(req.path, '/');
    bool known = req.path == "/pods" || req.path == "/stats/summary" ||
                 (segments.size() == 4 && segments[0] == "containerLogs");
    if (!known) return send_text(out, 404, fmt::format("404 page not found: {}", req.path));
    if (req.method != "GET") {
      out.send({405, {{"Content-Type", kTextPlain}, {"Allow", "GET"}}, "405: Method Not Allowed\n"});
      return;
    }
    if (req.path == "/pods") return serve_pods(out);
    if (req.path == "/stats/summary") return serve_stats_summary(out);
    serve_container_logs(req, segments[1], segments[2], segments[3], out);
  }

  bool allowed(const http::PeerIdentity& peer) const {
    const auto& users = options_.allowed_users;
    const auto& groups = peer.groups;
    return std::find(users.begin(), users.end(), peer.user) != users.end() ||
           std::find(groups.begin(), groups.end(), "system:masters") != groups.end();
  }

  void serve_pods(http::Responder& out) {
    Json items = Json::array();
    if (source_.pods)
      for (auto& pod : source_.pods()) items.push_back(std::move(pod));
    send_json(
        out, Json{{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"items", items}});
  }

  // ---- /containerLogs ----

  struct LogTarget {
    std::string container_id;
    std::string log_path;
    bool running = false;
  };

  std::optional<Json> find_pod(const std::string& ns, const std::string& name) const {
    if (!source_.pods) return std::nullopt;
    for (auto& pod : source_.pods())
      if (string_at(pod, "metadata", "namespace") == ns && string_at(pod, "metadata", "name") == name)
        return std::move(pod);
    return std::nullopt;
  }

  // The runtime's container for this pod and container name: the newest
  // attempt, or the one before it for previous.
  HttpResult<LogTarget> find_log_target(const std::string& ns, const std::string& pod_name,
                                        const std::string& container, bool previous) {
    auto pod = find_pod(ns, pod_name);
    if (!pod) return http_fail(404, fmt::format("pod \"{}/{}\" does not exist", ns, pod_name));
    if (!pod_has_container(*pod, container))
      return http_fail(404, fmt::format("container \"{}\" not found in pod \"{}\"", container, pod_name));
    if (!cri_) return http_fail(503, "no container runtime is connected");
    rt::ContainerFilter filter;
    auto& labels = *filter.mutable_label_selector();
    std::string uid = string_at(*pod, "metadata", "uid");
    if (!uid.empty()) {
      labels[kPodUidLabel] = uid;
    } else {
      labels[kPodNamespaceLabel] = ns;
      labels[kPodNameLabel] = pod_name;
    }
    labels[kContainerNameLabel] = container;
    auto listed = cri_->list_containers(filter);
    if (!listed) return http_fail(500, "list containers: " + listed.error().message);
    auto containers = std::move(*listed);
    std::sort(containers.begin(), containers.end(), [](const rt::Container& a, const rt::Container& b) {
      if (a.metadata().attempt() != b.metadata().attempt())
        return a.metadata().attempt() > b.metadata().attempt();
      return a.created_at() > b.created_at();
    });
    size_t index = previous ? 1 : 0;
    if (containers.size() <= index) {
      if (previous)
        return http_fail(400, fmt::format("previous terminated container \"{}\" in pod \"{}\" not found",
                                          container, pod_name));
      return http_fail(400, fmt::format("container \"{}\" in pod \"{}\" is waiting to start: {}", container,
                                        pod_name, waiting_reason(*pod, container)));
    }
    LogTarget target;
    target.container_id = containers[index].id();
    auto status = cri_->container_status(target.container_id, false);
    if (!status) return http_fail(500, "container status: " + status.error().message);
    target.log_path = status->status().log_path();
    target.running = status->status().state() == rt::CONTAINER_RUNNING;
    if (target.log_path.empty())
      return http_fail(400,
                       fmt::format("container \"{}\" in pod \"{}\" has no log file", container, pod_name));
    return target;
  }

  // For follow: whether the container still runs, asked of the runtime at
  // most once a second (a runtime that cannot answer now counts as running).
  std::function<bool()> still_running(const LogTarget& target, http::ResponseStream& stream) {
    auto next_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    return [this, &stream, id = target.container_id, running = target.running, next_check]() mutable {
      if (stream.client_gone()) return false;
      if (!running || std::chrono::steady_clock::now() < next_check) return running;
      next_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      auto status = cri_->container_status(id, false);
      if (status)
        running = status->status().state() == rt::CONTAINER_RUNNING;
      else if (status.error().kind == ErrorKind::NotFound)
        running = false;
      return running;
    };
  }

  void serve_container_logs(const http::Request& req, const std::string& ns, const std::string& pod,
                            const std::string& container, http::Responder& out) {
    auto request = parse_log_request(req);
    if (!request) return send_text(out, request.error().code, request.error().message);
    auto target = find_log_target(ns, pod, container, request->previous);
    if (!target) return send_text(out, target.error().code, target.error().message);
    if (::access(target->log_path.c_str(), R_OK) != 0)
      return send_text(out, 404,
                       fmt::format("log file {} of container \"{}\" in pod \"{}\": {}", target->log_path,
                                   container, pod, errno_text(errno)));
    auto& stream = out.stream(200, {{"Content-Type", kTextPlain}});
    auto sent = stream_container_log(
        target->log_path, request->options, [&stream](std::string_view chunk) { return stream.write(chunk); },
        still_running(*target, stream));
    if (!sent) logger()->warn("logs of {}/{}/{}: {}", ns, pod, container, sent.error().message);
  }

  // ---- /stats/summary ----

  struct CpuSample {
    int64_t at_nanos = 0;
    uint64_t usage_core_nanos = 0;
  };

  Json node_stats() {
    Json node{{"nodeName", options_.node_name}};
    std::string time = rfc3339_now();
    if (auto stat = fs::read_file("/proc/stat")) {
      if (auto usage = cpu_usage_core_nanos(*stat)) {
        Json cpu{{"time", time}, {"usageCoreNanoSeconds", *usage}};
        std::lock_guard lock(cpu_mu_);
        CpuSample now{now_nanos(), *usage};
        if (last_cpu_.at_nanos && now.at_nanos > last_cpu_.at_nanos &&
            now.usage_core_nanos >= last_cpu_.usage_core_nanos)
          cpu["usageNanoCores"] =
              static_cast<uint64_t>(static_cast<double>(now.usage_core_nanos - last_cpu_.usage_core_nanos) *
                                    1e9 / static_cast<double>(now.at_nanos - last_cpu_.at_nanos));
        last_cpu_ = now;
        node["cpu"] = cpu;
      }
    }
    if (auto meminfo = fs::read_file("/proc/meminfo")) {
      auto field = [&](std::string_view name) { return meminfo_bytes(*meminfo, name); };
      uint64_t total = field("MemTotal"), available = field("MemAvailable"), free = field("MemFree");
      node["memory"] = {{"time", time},
                        {"availableBytes", available},
                        {"usageBytes", total - std::min(total, free)},
                        {"workingSetBytes", total - std::min(total, available)}};
    }
    return node;
  }

  // The busy time of all CPUs in /proc/stat's first line, in nanoseconds.
  static std::optional<uint64_t> cpu_usage_core_nanos(std::string_view stat) {
    std::string_view first = stat.substr(0, stat.find('\n'));
    auto fields = split_nonempty(first, ' ');
    if (fields.size() < 8 || fields[0] != "cpu") return std::nullopt;
    uint64_t busy_ticks = 0;
    for (size_t i : {1, 2, 3, 6, 7, 8}) {  // user nice system irq softirq steal
      if (i >= fields.size()) break;
      busy_ticks += std::strtoull(fields[i].c_str(), nullptr, 10);
    }
    long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    if (ticks_per_second <= 0) return std::nullopt;
    return busy_ticks * (1'000'000'000ULL / static_cast<uint64_t>(ticks_per_second));
  }

  static uint64_t meminfo_bytes(std::string_view meminfo, std::string_view name) {
    for (auto line : split(meminfo, '\n')) {
      if (line.substr(0, line.find(':')) != name) continue;
      auto fields = split_nonempty(line.substr(line.find(':') + 1), ' ');
      if (fields.empty()) return 0;
      return std::strtoull(fields[0].c_str(), nullptr, 10) * 1024;
    }
    return 0;
  }

  static Json cpu_json(const rt::CpuUsage& cpu) {
    Json j{{"usageCoreNanoSeconds", cpu.usage_core_nano_seconds().value()}};
    if (cpu.has_usage_nano_cores()) j["usageNanoCores"] = cpu.usage_nano_cores().value();
    return j;
  }
  static Json memory_json(const rt::MemoryUsage& memory) {
    Json j{{"workingSetBytes", memory.working_set_bytes().value()}};
    if (memory.has_usage_bytes()) j["usageBytes"] = memory.usage_bytes().value();
    return j;
  }

  // Per-pod stats from the runtime, keyed by pod uid: the containers' from
  // ListContainerStats (labels say their pod), the pod's own from
  // ListPodSandboxStats. A runtime without either gives fewer numbers.
  HttpResult<Json> pod_stats() {
    std::map<std::string, Json> pods;
    auto pod_entry = [&pods](const std::string& uid, const std::string& name,
                             const std::string& ns) -> Json& {
      Json& p = pods[uid];
      if (p.is_null())
        p = {{"podRef", {{"name", name}, {"namespace", ns}, {"uid", uid}}}, {"containers", Json::array()}};
      return p;
    };
    auto containers = cri_->list_container_stats();
    if (!containers && containers.error().kind != ErrorKind::Unimplemented)
      return http_fail(500, "list container stats: " + containers.error().message);
    for (const auto& c : containers ? *containers : std::vector<rt::ContainerStats>{}) {
      const auto& labels = c.attributes().labels();
      auto label = [&labels](const char* key) {
        auto it = labels.find(key);
        return it == labels.end() ? std::string() : it->second;
      };
      std::string uid = label(kPodUidLabel);
      if (uid.empty()) continue;
      Json& pod = pod_entry(uid, label(kPodNameLabel), label(kPodNamespaceLabel));
      Json entry{{"name", c.attributes().metadata().name()}};
      if (c.has_cpu()) entry["cpu"] = cpu_json(c.cpu());
      if (c.has_memory()) entry["memory"] = memory_json(c.memory());
      pod["containers"].push_back(std::move(entry));
    }
    auto sandboxes = cri_->list_pod_sandbox_stats();
    if (!sandboxes && sandboxes.error().kind != ErrorKind::Unimplemented)
      return http_fail(500, "list pod sandbox stats: " + sandboxes.error().message);
    for (const auto& s : sandboxes ? *sandboxes : std::vector<rt::PodSandboxStats>{}) {
      const auto& meta = s.attributes().metadata();
      if (meta.uid().empty()) continue;
      Json& pod = pod_entry(meta.uid(), meta.name(), meta.namespace_());
      if (s.linux().has_cpu()) pod["cpu"] = cpu_json(s.linux().cpu());
      if (s.linux().has_memory()) pod["memory"] = memory_json(s.linux().memory());
    }
    Json out = Json::array();
    for (auto& [uid, pod] : pods) out.push_back(std::move(pod));
    return out;
  }

  void serve_stats_summary(http::Responder& out) {
    Json summary{{"node", node_stats()}, {"pods", Json::array()}};
    if (cri_) {
      auto pods = pod_stats();
      if (!pods) return send_text(out, pods.error().code, pods.error().message);
      summary["pods"] = std::move(*pods);
    }
    send_json(out, summary);
  }

  NodeServerOptions options_;
  std::shared_ptr<cri::CriClient> cri_;
  NodePodSource source_;
  std::mutex cpu_mu_;
  CpuSample last_cpu_;
  std::unique_ptr<http::HttpServer> http_;
};

}  // namespace

Result<std::unique_ptr<NodeServer>> NodeServer::start(const NodeServerOptions& options,
                                                      std::shared_ptr<cri::CriClient> cri,
                                                      NodePodSource source) {
  NodeServerOptions o = options;
  if (o.client_ca_file.empty())
    return fail(ErrorKind::InvalidArgument,
                "node server: client_ca_file is required (callers are known by their certificates)");
  DH_CHECK(use_self_signed_cert_if_none(o));
  auto server = std::make_unique<RunningNodeServer>(std::move(o), std::move(cri), std::move(source));
  DH_CHECK(with_context(server->listen(), "node server on {}:{}", options.address, options.port));
  return std::unique_ptr<NodeServer>(std::move(server));
}

}  // namespace deckhand::agent
