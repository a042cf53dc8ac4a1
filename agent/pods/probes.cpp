#include "probes.h"

#include <grpcpp/grpcpp.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <thread>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/log.h"
#include "deckhand/common/text.h"
#include "deckhand/http/client.h"
#include "deckhand/http/connection_io.h"

namespace deckhand::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Probe messages end up in events and logs: keep them short.
constexpr size_t kMaxOutputChars = 1024;
// Time left to the runtime to report an exec timeout itself before the gRPC
// deadline ends the call (kubelet adds its whole runtime timeout; we keep
// probe threads bounded instead).
constexpr auto kExecDeadlineSlack = std::chrono::seconds(5);
constexpr const char* kUserAgent = "kube-probe/1.33";
// Enough that one slow probe does not hold up the others; few enough to stay small.
constexpr int kProbeThreads = 4;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("probes");
  return l;
}

ActionOutcome success(std::string message = {}) { return {ProbeResult::Success, std::move(message)}; }
ActionOutcome failure(std::string message) { return {ProbeResult::Failure, std::move(message)}; }

// Lets a running action be abandoned when the ProbeManager stops: http, tcp
// and sleep wait on its fd too, an exec's gRPC call is cancelled through its
// context.
class ActionCancel {
 public:
  void cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    signal_.raise();
    if (call_) call_->TryCancel();
  }
  // Readable once cancelled: HTTP calls wait on it.
  int fd() const { return signal_.fd(); }
  // Registers the gRPC call about to run; false when already cancelled.
  bool attach(grpc::ClientContext* call) {
    std::lock_guard lock(mu_);
    if (cancelled_) return false;
    call_ = call;
    return true;
  }
  void detach() {
    std::lock_guard lock(mu_);
    call_ = nullptr;
  }

 private:
  std::mutex mu_;
  bool cancelled_ = false;
  http::CancelSignal signal_;
  grpc::ClientContext* call_ = nullptr;
};

int64_t json_int(const Json& obj, const char* key, int64_t fallback) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer()) return fallback;
  return obj[key].get<int64_t>();
}

std::string json_string(const Json& obj, const char* key, std::string fallback = {}) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return fallback;
  return obj[key].get<std::string>();
}

const Json* json_object(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_object()) return nullptr;
  return &obj[key];
}

std::string trimmed(std::string s) {
  if (s.size() > kMaxOutputChars) {
    s.resize(kMaxOutputChars);
    s += "...";
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A port number, or a name looked up in the container's ports (a name that
// is not there may still be a number written as a string, as kubelet allows).
Result<int> resolve_port(const Json& port, const Json* container) {
  int64_t number = -1;
  if (port.is_number_integer()) {
    number = port.get<int64_t>();
  } else if (port.is_string()) {
    auto name = port.get<std::string>();
    if (container && container->contains("ports") && (*container)["ports"].is_array()) {
      for (const auto& p : (*container)["ports"])
        if (json_string(p, "name") == name) number = json_int(p, "containerPort", -1);
    }
    if (number < 0 && all_digits(name) && name.size() < 6) number = std::stoi(name);
    if (number < 0) return fail(ErrorKind::NotFound, "port \"{}\" is not a port of the container", name);
  } else {
    return fail(ErrorKind::InvalidArgument, "no port given");
  }
  if (number < 1 || number > 65535)
    return fail(ErrorKind::InvalidArgument, "port {} is out of range", number);
  return static_cast<int>(number);
}

// IPv6 addresses go in brackets in URLs and "host:port" strings.
std::string bracketed(const std::string& host) {
  if (host.find(':') != std::string::npos && !host.starts_with('[')) return "[" + host + "]";
  return host;
}

std::string joined(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  return "[" + line + "]";
}

ActionOutcome run_exec(cri::CriClient* cri, const Json& exec, const std::string& container_id,
                       milliseconds timeout, ActionCancel* cancel) {
  std::vector<std::string> command;
  if (exec.contains("command") && exec["command"].is_array())
    for (const auto& word : exec["command"])
      if (word.is_string()) command.push_back(word.get<std::string>());
  if (command.empty()) return failure("exec has no command");
  if (!cri) return failure("exec: no CRI runtime to run it in");

  ::runtime::v1::ExecSyncRequest request;
  request.set_container_id(container_id);
  for (const auto& word : command) request.add_cmd(word);
  auto timeout_seconds = std::max<int64_t>(1, (timeout.count() + 999) / 1000);
  request.set_timeout(timeout_seconds);
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + timeout + kExecDeadlineSlack);
  if (cancel && !cancel->attach(&call)) return failure("exec cancelled");
  ::runtime::v1::ExecSyncResponse response;
  grpc::Status status = cri->runtime_stub().ExecSync(&call, request, &response);
  if (cancel) cancel->detach();

  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return failure(fmt::format("command {} timed out after {}s", joined(command), timeout_seconds));
  if (!status.ok())
    return failure(fmt::format("exec {}: {}: {}", joined(command), cri::grpc_code_name(status.error_code()),
                               status.error_message()));
  if (response.exit_code() == 0) return success();
  return failure(trimmed(fmt::format("command {} exited with {}: {}{}", joined(command), response.exit_code(),
                                     response.stdout(), response.stderr())));
}

// The request headers: the handler's own, then kubelet's defaults for those it does not set.
http::HeaderList http_headers(const Json& http_get) {
  http::HeaderList list;
  bool has_user_agent = false, has_accept = false;
  if (http_get.contains("httpHeaders") && http_get["httpHeaders"].is_array()) {
    for (const auto& h : http_get["httpHeaders"]) {
      auto name = json_string(h, "name"), value = json_string(h, "value");
      if (name.empty() || name.find_first_of(":\r\n") != std::string::npos) continue;
      if (value.find_first_of("\r\n") != std::string::npos) continue;
      has_user_agent |= ascii_iequals(name, "User-Agent");
      has_accept |= ascii_iequals(name, "Accept");
      list.emplace_back(name, value);
    }
  }
  if (!has_user_agent) list.emplace_back("User-Agent", kUserAgent);
  if (!has_accept) list.emplace_back("Accept", "*/*");
  return list;
}

Result<std::string> http_url(const Json& http_get, const ActionTarget& target) {
  DH_TRY(port, resolve_port(http_get.contains("port") ? http_get["port"] : Json(), target.container));
  auto scheme = ascii_lower(json_string(http_get, "scheme", "HTTP"));
  if (scheme != "http" && scheme != "https")
    return fail(ErrorKind::InvalidArgument, "unsupported scheme \"{}\"", scheme);
  auto host = json_string(http_get, "host");
  if (host.empty()) host = target.pod_ip;
  if (host.empty()) return fail(ErrorKind::FailedPrecondition, "no host: the pod has no IP");
  auto path = json_string(http_get, "path", "/");
  if (!path.starts_with('/')) path.insert(0, "/");
  return fmt::format("{}://{}:{}{}", scheme, bracketed(host), port, path);
}

ActionOutcome run_http_get(const Json& http_get, const ActionTarget& target, milliseconds timeout,
                           ActionCancel* cancel) {
  auto url = http_url(http_get, target);
  if (!url) return failure("httpGet: " + url.error().message);
  auto split = http::split_url(*url);
  if (!split) return failure(fmt::format("Get \"{}\": {}", *url, split.error().message));
  http::ClientOptions options;
  options.verify_server = false;  // kubelet does not verify probe certificates
  options.connect_timeout = timeout;
  options.request_timeout = timeout;
  options.max_idle_connections = 0;  // a new connection per probe, as kubelet's
  auto client = http::HttpClient::create(split->first, std::move(options));
  if (!client) return failure(fmt::format("Get \"{}\": {}", *url, client.error().message));
  http::ClientRequest request;
  request.target = split->second;
  request.headers = http_headers(http_get);
  request.cancel_fd = cancel ? cancel->fd() : -1;
  // The status line is what counts (a 3xx too: redirects are not followed); the body is not read.
  auto response = (*client)->open(request, timeout);
  if (!response) return failure(fmt::format("Get \"{}\": {}", *url, response.error().message));
  int status = (*response)->status();
  if (status >= 200 && status < 400) return success();
  return failure(fmt::format("HTTP probe failed with statuscode: {}", status));
}

enum class Wake { Ready, Cancelled, Deadline };

// Waits until fd (none when -1) is ready for writing, the action is
// cancelled, or the deadline passes; poll errors other than EINTR count as
// ready, for the caller's own call to report.
Wake wait_writable(int fd, Clock::time_point deadline, ActionCancel* cancel) {
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return Wake::Deadline;
    pollfd fds[2] = {{cancel ? cancel->fd() : -1, POLLIN, 0}, {fd, POLLOUT, 0}};
    int n = ::poll(fds, 2, http::poll_timeout_ms(left));
    if (n < 0 && errno == EINTR) continue;
    if (fds[0].revents != 0) return Wake::Cancelled;
    if (n != 0) return Wake::Ready;
  }
}

// Waits for a non-blocking connect until the deadline or a cancel.
ActionOutcome finish_connect(int fd, const std::string& address, Clock::time_point deadline,
                             ActionCancel* cancel) {
  switch (wait_writable(fd, deadline, cancel)) {
    case Wake::Cancelled: return failure(fmt::format("dial tcp {}: cancelled", address));
    case Wake::Deadline: return failure(fmt::format("dial tcp {}: i/o timeout", address));
    case Wake::Ready: break;
  }
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error == 0) return success();
  return failure(fmt::format("dial tcp {}: connect: {}", address, errno_text(error)));
}

ActionOutcome run_tcp_socket(const Json& tcp, const ActionTarget& target, milliseconds timeout,
                             ActionCancel* cancel) {
  auto port = resolve_port(tcp.contains("port") ? tcp["port"] : Json(), target.container);
  if (!port) return failure("tcpSocket: " + port.error().message);
  auto host = json_string(tcp, "host");
  if (host.empty()) host = target.pod_ip;
  if (host.empty()) return failure("tcpSocket: no host: the pod has no IP");
  auto address = fmt::format("{}:{}", bracketed(host), *port);
  auto deadline = Clock::now() + timeout;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port_text = std::to_string(*port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0)
    return failure(fmt::format("dial tcp {}: lookup {}: {}", address, host, gai_strerror(rc)));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);

  UniqueFd fd(
      ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, found->ai_protocol));
  if (!fd) return failure(fmt::format("dial tcp {}: socket: {}", address, errno_text(errno)));
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) == 0) return success();
  if (errno != EINPROGRESS)
    return failure(fmt::format("dial tcp {}: connect: {}", address, errno_text(errno)));
  return finish_connect(fd.get(), address, deadline, cancel);
}

// A lifecycle handler's sleep action (probes cannot have one).
ActionOutcome run_sleep(const Json& sleep, milliseconds timeout, ActionCancel* cancel) {
  auto until =
      Clock::now() + std::min<milliseconds>(std::chrono::seconds(json_int(sleep, "seconds", 0)), timeout);
  return wait_writable(-1, until, cancel) == Wake::Cancelled ? failure("sleep cancelled") : success();
}

ActionOutcome run_handler(cri::CriClient* cri, const Json& handler, const ActionTarget& target,
                          milliseconds timeout, ActionCancel* cancel) {
  if (const Json* exec = json_object(handler, "exec"))
    return run_exec(cri, *exec, target.container_id, timeout, cancel);
  if (const Json* http = json_object(handler, "httpGet")) return run_http_get(*http, target, timeout, cancel);
  if (const Json* tcp = json_object(handler, "tcpSocket"))
    return run_tcp_socket(*tcp, target, timeout, cancel);
  if (json_object(handler, "grpc")) return failure("grpc probes are not supported");
  if (const Json* sleep = json_object(handler, "sleep")) return run_sleep(*sleep, timeout, cancel);
  return failure("handler has none of exec, httpGet, tcpSocket");
}

// Probe threads must not die of an exception: a malformed spec is a failure.
ActionOutcome run_action_guarded(cri::CriClient* cri, const Json& handler, const ActionTarget& target,
                                 milliseconds timeout, ActionCancel* cancel) {
  try {
    return run_handler(cri, handler, target, timeout, cancel);
  } catch (const std::exception& e) {
    return failure(fmt::format("probe action failed: {}", e.what()));
  }
}

enum class ProbeKind { Startup, Liveness, Readiness };

const char* kind_name(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::Startup:
      return "Startup";
    case ProbeKind::Liveness:
      return "Liveness";
    case ProbeKind::Readiness:
      return "Readiness";
  }
  return "?";
}

// Caps absurd spec values (the API server bounds them to int32).
constexpr int64_t kMaxProbeSetting = 1'000'000;

struct ProbeSettings {
  std::chrono::seconds initial_delay{0};
  std::chrono::seconds period{10};
  std::chrono::seconds timeout{1};
  int success_threshold = 1;
  int failure_threshold = 3;
};

// Defaults and minimums as the API server applies them; successThreshold is
// 1 for liveness and startup whatever the spec says.
ProbeSettings settings_of(const Json& probe, ProbeKind kind) {
  auto field = [&probe](const char* key, int64_t fallback, int64_t minimum) {
    return std::clamp(json_int(probe, key, fallback), minimum, kMaxProbeSetting);
  };
  ProbeSettings s;
  s.initial_delay = std::chrono::seconds(field("initialDelaySeconds", 0, 0));
  s.period = std::chrono::seconds(field("periodSeconds", 10, 1));
  s.timeout = std::chrono::seconds(field("timeoutSeconds", 1, 1));
  s.success_threshold = kind == ProbeKind::Readiness ? static_cast<int>(field("successThreshold", 1, 1)) : 1;
  s.failure_threshold = static_cast<int>(field("failureThreshold", 3, 1));
  return s;
}

// The spec of a running container: a regular one, or a restartable init
// container (a sidecar: restartPolicy Always), the only init containers with probes.
const Json* container_spec(const Json& pod, const std::string& name) {
  const Json* spec = json_object(pod, "spec");
  if (!spec) return nullptr;
  for (const char* list : {"containers", "initContainers"}) {
    if (!spec->contains(list) || !(*spec)[list].is_array()) continue;
    for (const auto& c : (*spec)[list]) {
      if (json_string(c, "name") != name) continue;
      if (std::string_view(list) == "initContainers" && json_string(c, "restartPolicy") != "Always")
        return nullptr;
      return &c;
    }
  }
  return nullptr;
}

constexpr std::pair<ProbeKind, const char*> kProbeKeys[] = {{ProbeKind::Startup, "startupProbe"},
                                                            {ProbeKind::Liveness, "livenessProbe"},
                                                            {ProbeKind::Readiness, "readinessProbe"}};

bool same_health(const ContainerHealth& a, const ContainerHealth& b) {
  return a.started == b.started && a.ready == b.ready && a.restart_wanted == b.restart_wanted &&
         a.message == b.message;
}

}  // namespace

ActionOutcome run_action(cri::CriClient& cri, const Json& handler, const ActionTarget& target,
                         std::chrono::milliseconds timeout) {
  return run_action_guarded(&cri, handler, target, timeout, nullptr);
}

// Probe workers share a timer queue served by a few threads: each thread
// takes the earliest due probe, runs it unlocked, applies the result and
// queues the probe's next run.
struct ProbeManager::Impl {
  struct Instance;

  // One probe of one container instance, and its run of equal results.
  struct Worker {
    ProbeKind kind = ProbeKind::Liveness;
    Json probe;
    ProbeSettings settings;
    std::weak_ptr<Instance> instance;
    Clock::time_point first_due;
    uint64_t generation = 0;  // queue entries of older generations are stale
    bool stopped = false;
    std::optional<ProbeResult> last_result;
    int result_run = 0;
  };

  struct Instance {
    std::string pod_key, container_id, pod_ip;
    std::shared_ptr<const Json> spec;  // the container's ports, for named ports
    bool has_startup = false, has_readiness = false;
    bool startup_passed = false, readiness_passed = false;
    bool restart_wanted = false;
    std::string message;
    std::vector<std::shared_ptr<Worker>> workers;
  };

  struct Due {
    Clock::time_point when;
    uint64_t order;  // first queued, first run among equal times
    std::weak_ptr<Worker> worker;
    uint64_t generation;
    bool operator>(const Due& o) const { return when != o.when ? when > o.when : order > o.order; }
  };

  std::shared_ptr<cri::CriClient> cri;
  std::function<void(const std::string&)> on_change;

  mutable std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  // pod key -> container id -> the instance and its probes
  std::map<std::string, std::map<std::string, std::shared_ptr<Instance>>> pods;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue;
  uint64_t next_order = 0;
  std::vector<std::unique_ptr<ActionCancel>> cancels;  // one per thread
  std::vector<std::thread> threads;

  static ContainerHealth health_of(const Instance& i) {
    ContainerHealth h;
    h.started = !i.has_startup || i.startup_passed;
    h.ready = h.started && (!i.has_readiness || i.readiness_passed);
    h.restart_wanted = i.restart_wanted;
    h.message = i.message;
    return h;
  }

  void schedule(const std::shared_ptr<Worker>& w, Clock::time_point when) {
    queue.push(Due{when, next_order++, w, w->generation});
    wake.notify_all();
  }

  std::shared_ptr<Instance> make_instance(const std::string& pod_key, const std::string& id,
                                          const std::string& pod_ip, const Json& spec) {
    auto instance = std::make_shared<Instance>();
    instance->pod_key = pod_key;
    instance->container_id = id;
    instance->pod_ip = pod_ip;
    // Named ports are all that actions need of the spec: keep only them.
    Json ports_only = Json::object();
    if (spec.contains("ports")) ports_only["ports"] = spec["ports"];
    instance->spec = std::make_shared<const Json>(std::move(ports_only));
    auto now = Clock::now();
    for (auto [kind, key] : kProbeKeys) {
      const Json* probe = json_object(spec, key);
      if (!probe) continue;
      auto w = std::make_shared<Worker>();
      w->kind = kind;
      w->probe = *probe;
      w->settings = settings_of(*probe, kind);
      w->instance = instance;
      w->first_due = now + w->settings.initial_delay;
      instance->workers.push_back(w);
      instance->has_startup |= kind == ProbeKind::Startup;
      instance->has_readiness |= kind == ProbeKind::Readiness;
    }
    // Until the startup probe passes, the others wait unscheduled.
    for (const auto& w : instance->workers)
      if (!instance->has_startup || w->kind == ProbeKind::Startup) schedule(w, w->first_due);
    return instance;
  }

  static void stop_instance(Instance& i) {
    for (auto& w : i.workers) w->stopped = true;
  }

  void start_after_startup(Instance& i) {
    auto now = Clock::now();
    for (auto& w : i.workers) {
      if (w->kind == ProbeKind::Startup || w->stopped) continue;
      ++w->generation;
      schedule(w, std::max(now, w->first_due));
    }
  }

  void ask_restart(Instance& i, const Worker& w, const std::string& why) {
    if (i.restart_wanted) return;
    i.restart_wanted = true;
    i.message = fmt::format("{} probe failed: {}", kind_name(w.kind), why);
    logger()->info("pod {} container {}: {}", i.pod_key, i.container_id, i.message);
  }

  // Counts the result into the worker's run; once a run reaches its
  // threshold it becomes the probe's result. True when the health changed.
  bool apply_result(Worker& w, Instance& i, const ActionOutcome& outcome) {
    bool failed = outcome.result == ProbeResult::Failure;
    if (failed)
      logger()->debug("pod {} container {}: {} probe failed: {}", i.pod_key, i.container_id,
                      kind_name(w.kind), outcome.message);
    if (w.last_result == outcome.result) {
      ++w.result_run;
    } else {
      w.last_result = outcome.result;
      w.result_run = 1;
    }
    if (w.result_run < (failed ? w.settings.failure_threshold : w.settings.success_threshold)) return false;

    ContainerHealth before = health_of(i);
    switch (w.kind) {
      case ProbeKind::Readiness:
        i.readiness_passed = !failed;
        break;
      case ProbeKind::Startup:
        if (failed) {
          ask_restart(i, w, outcome.message);
        } else {
          i.startup_passed = true;
          w.stopped = true;  // not run again for this instance
          start_after_startup(i);
        }
        break;
      case ProbeKind::Liveness:
        if (failed) ask_restart(i, w, outcome.message);
        break;
    }
    // The container is about to be killed; its next instance gets new workers.
    if (failed && w.kind != ProbeKind::Readiness) w.stopped = true;
    return !same_health(before, health_of(i));
  }

  void notify(const std::string& pod_key) {
    if (!on_change) return;
    try {
      on_change(pod_key);
    } catch (const std::exception& e) {
      logger()->error("probe change callback for pod {} threw: {}", pod_key, e.what());
    } catch (...) {
      logger()->error("probe change callback for pod {} threw", pod_key);
    }
  }

  void run_due(std::unique_lock<std::mutex>& lock, ActionCancel& cancel, const Due& due) {
    auto w = due.worker.lock();
    if (!w || w->stopped || w->generation != due.generation) return;
    auto instance = w->instance.lock();
    if (!instance) return;
    ActionTarget target{instance->container_id, instance->pod_ip, instance->spec.get()};
    milliseconds timeout = w->settings.timeout;
    lock.unlock();
    // w->probe and *instance->spec never change after creation: safe to read unlocked.
    ActionOutcome outcome = run_action_guarded(cri.get(), w->probe, target, timeout, &cancel);
    lock.lock();
    if (w->stopped || stopping) return;
    bool changed = apply_result(*w, *instance, outcome);
    if (!w->stopped) schedule(w, std::max(due.when + w->settings.period, Clock::now()));
    if (changed) {
      lock.unlock();
      notify(instance->pod_key);
      lock.lock();
    }
  }

  void serve(ActionCancel& cancel) {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (queue.empty()) {
        wake.wait(lock);
        continue;
      }
      Clock::time_point when = queue.top().when;
      if (when > Clock::now()) {
        wake.wait_until(lock, when);
        continue;
      }
      Due due = queue.top();
      queue.pop();
      run_due(lock, cancel, due);
    }
  }

  void serve_guarded(ActionCancel& cancel) {
    try {
      serve(cancel);
    } catch (const std::exception& e) {
      logger()->critical("probe thread stopped: {}", e.what());
    } catch (...) {
      logger()->critical("probe thread stopped by an unknown exception");
    }
  }
};

ProbeManager::ProbeManager(std::shared_ptr<cri::CriClient> cri,
                           std::function<void(const std::string& pod_key)> on_change)
    : impl_(std::make_unique<Impl>()) {
  impl_->cri = std::move(cri);
  impl_->on_change = std::move(on_change);
  for (int n = 0; n < kProbeThreads; ++n) impl_->cancels.push_back(std::make_unique<ActionCancel>());
  for (int n = 0; n < kProbeThreads; ++n)
    impl_->threads.emplace_back(
        [impl = impl_.get(), cancel = impl_->cancels[n].get()] { impl->serve_guarded(*cancel); });
}

ProbeManager::~ProbeManager() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (auto& c : impl_->cancels) c->cancel();
    for (auto& [key, instances] : impl_->pods)
      for (auto& [id, instance] : instances) Impl::stop_instance(*instance);
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->threads) t.join();
}

void ProbeManager::update_pod(const std::string& pod_key, const Json& pod, const std::string& pod_ip,
                              const std::map<std::string, std::string>& running) {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping) return;
  auto& instances = impl_->pods[pod_key];
  std::set<std::string> running_ids;
  for (const auto& [name, id] : running) running_ids.insert(id);
  for (auto it = instances.begin(); it != instances.end();) {
    if (running_ids.count(it->first)) {
      it->second->pod_ip = pod_ip;
      ++it;
      continue;
    }
    Impl::stop_instance(*it->second);
    it = instances.erase(it);
  }
  for (const auto& [name, id] : running) {
    if (instances.count(id)) continue;
    const Json* spec = container_spec(pod, name);
    // Containers without probes keep the defaults: nothing to track.
    if (!spec || !(json_object(*spec, "startupProbe") || json_object(*spec, "livenessProbe") ||
                   json_object(*spec, "readinessProbe")))
      continue;
    instances[id] = impl_->make_instance(pod_key, id, pod_ip, *spec);
  }
  if (instances.empty()) impl_->pods.erase(pod_key);
}

void ProbeManager::remove_pod(const std::string& pod_key) {
  std::lock_guard lock(impl_->mu);
  auto found = impl_->pods.find(pod_key);
  if (found == impl_->pods.end()) return;
  for (auto& [id, instance] : found->second) Impl::stop_instance(*instance);
  impl_->pods.erase(found);
}

ContainerHealth ProbeManager::health(const std::string& pod_key, const std::string& container_id) const {
  std::lock_guard lock(impl_->mu);
  auto pod = impl_->pods.find(pod_key);
  if (pod == impl_->pods.end()) return {};
  auto instance = pod->second.find(container_id);
  if (instance == pod->second.end()) return {};
  return Impl::health_of(*instance->second);
}

}  // namespace deckhand::agent
