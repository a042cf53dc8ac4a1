// The scheduler's wiring: informer handlers feed the cache and the queue;
// one loop pops, decides and assumes; binder threads write to the API.
#include "deckhand/scheduler/scheduler.h"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "deckhand/scheduler/cache.h"
#include "deckhand/scheduler/queue.h"

namespace deckhand::scheduler {

namespace {

using namespace std::chrono_literals;
namespace res = client::resources;

std::string rfc3339_now() {
  time_t now = std::time(nullptr);
  struct tm utc {};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// A fixed set of threads running posted tasks in order of posting.
class TaskPool {
 public:
  explicit TaskPool(int threads) {
    for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { run(); });
  }
  ~TaskPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (stopping_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
};

class SchedulerImpl final : public Scheduler {
 public:
  SchedulerImpl(std::shared_ptr<client::ApiClient> api, SchedulerOptions options)
      : api_(std::move(api)),
        options_(std::move(options)),
        queue_(options_.backoff_initial, options_.backoff_max),
        log_(log::get("scheduler")) {}

  void start() {
    binders_ = std::make_unique<TaskPool>(options_.bind_threads);
    client::InformerHandlers node_handlers{
        [this](const Json& n) { on_node(n); }, [this](const Json&, const Json& n) { on_node(n); },
        [this](const Json& n) { cache_.remove_node(n["metadata"].value("name", "")); }};
    client::InformerHandlers pod_handlers{
        [this](const Json& p) { on_pod(p); }, [this](const Json&, const Json& p) { on_pod(p); },
        [this](const Json& p) { on_pod_deleted(client::object_key(p)); }};
    client::InformerOptions node_opts;
    node_opts.name = "scheduler nodes";
    client::InformerOptions pod_opts;
    pod_opts.name = "scheduler pods";
    nodes_ = client::Informer::start(client::make_list_watcher(api_, res::kNodes, ""), node_handlers, node_opts);
    pods_ = client::Informer::start(client::make_list_watcher(api_, res::kPods, ""), pod_handlers, pod_opts);
    loop_ = std::thread([this] { run_loop(); });
  }

  ~SchedulerImpl() override {
    stopping_ = true;
    queue_.close();
    if (loop_.joinable()) loop_.join();
    pods_.reset();
    nodes_.reset();
    binders_.reset();
  }

  bool wait_for_sync(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!nodes_->wait_for_sync(timeout)) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return pods_->wait_for_sync(std::max(left, 0ms));
  }

  SchedulerStats stats() override {
    return {attempts_.load(), bound_.load(), bind_errors_.load(), unschedulable_.load()};
  }

 private:
  void on_node(const Json& node) {
    if (cache_.set_node(parse_node(node))) queue_.move_all_to_active();
  }

  void on_pod(const Json& obj) {
    auto pod = parse_pod(obj);
    if (pod->bound() || pod->finished()) {
      queue_.remove(pod->key);
      if (cache_.set_bound_pod(pod)) queue_.move_all_to_active();
      return;
    }
    if (pod->scheduler_name == options_.scheduler_name && !pod->terminating)
      queue_.add_or_update(std::move(pod));
    else
      queue_.remove(pod->key);
  }

  void on_pod_deleted(const std::string& key) {
    queue_.remove(key);
    if (cache_.remove_pod(key)) queue_.move_all_to_active();
  }

  void run_loop() {
    while (!stopping_ && !wait_for_sync(200ms)) {
    }
    while (!stopping_) {
      auto pod = queue_.pop(500ms);
      if (pod) schedule_one(std::move(pod));
    }
  }

  void schedule_one(std::shared_ptr<const PodInfo> pod) {
    ++attempts_;
    Decision d = cache_.schedule_and_assume(*pod);
    if (d.node.empty()) {
      ++unschedulable_;
      log_->info("pod {} is unschedulable: {}", pod->key, d.failure_message);
      queue_.unschedulable(pod->key);
      binders_->post([this, pod, message = std::move(d.failure_message)] { report_unschedulable(*pod, message); });
      return;
    }
    queue_.scheduled(pod->key);
    binders_->post([this, pod, node = std::move(d.node)] { bind(*pod, node); });
  }

  void bind(const PodInfo& pod, const std::string& node) {
    Json binding = {{"apiVersion", "v1"},
                    {"kind", "Binding"},
                    {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", pod.uid}}},
                    {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
    auto r = api_->create_subresource(res::kPods, pod.ns, pod.name, "binding", binding);
    if (r) {
      ++bound_;
      log_->debug("bound {} to {}", pod.key, node);
      return;
    }
    ++bind_errors_;
    log_->warn("binding {} to {}: {}", pod.key, node, r.error().message);
    cache_.forget(pod.key);
    if (r.error().kind == ErrorKind::NotFound)
      queue_.remove(pod.key);
    else
      queue_.retry_after_error(pod.key);
  }

  void report_unschedulable(const PodInfo& pod, const std::string& message) {
    std::string now = rfc3339_now();
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
    Json event = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", fmt::format("{}.{:x}", pod.name, nanos)}, {"namespace", pod.ns}}},
                  {"involvedObject",
                   {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"namespace", pod.ns},
                    {"name", pod.name},
                    {"uid", pod.uid},
                    {"resourceVersion", pod.resource_version}}},
                  {"reason", "FailedScheduling"},
                  {"message", message},
                  {"type", "Warning"},
                  {"source", {{"component", options_.scheduler_name}}},
                  {"reportingComponent", options_.scheduler_name},
                  {"reportingInstance", options_.identity.empty() ? options_.scheduler_name : options_.identity},
                  {"action", "Scheduling"},
                  {"firstTimestamp", now},
                  {"lastTimestamp", now},
                  {"count", 1}};
    if (auto r = api_->create(res::kEvents, pod.ns, event); !r)
      log_->warn("event for {}: {}", pod.key, r.error().message);
    if (pod.unschedulable_message == message) return;  // the condition says so already
    Json patch = {{"status",
                   {{"conditions", Json::array({{{"type", "PodScheduled"},
                                                 {"status", "False"},
                                                 {"reason", "Unschedulable"},
                                                 {"message", message},
                                                 {"lastProbeTime", nullptr},
                                                 {"lastTransitionTime", now}}})}}}};
    if (auto r = api_->patch(res::kPods, pod.ns, pod.name, client::PatchType::Strategic, patch, "status"); !r)
      log_->warn("PodScheduled condition of {}: {}", pod.key, r.error().message);
  }

  std::shared_ptr<client::ApiClient> api_;
  const SchedulerOptions options_;
  ClusterCache cache_;
  SchedulingQueue queue_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> attempts_{0}, bound_{0}, bind_errors_{0}, unschedulable_{0};
  std::unique_ptr<TaskPool> binders_;
  std::unique_ptr<client::Informer> nodes_;
  std::unique_ptr<client::Informer> pods_;
  std::thread loop_;
};

}  // namespace

Result<std::unique_ptr<Scheduler>> Scheduler::start(std::shared_ptr<client::ApiClient> api, SchedulerOptions options) {
  if (!api) return fail(ErrorKind::InvalidArgument, "the scheduler needs an API client");
  if (options.scheduler_name.empty()) return fail(ErrorKind::InvalidArgument, "the scheduler needs a name");
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial)
    return fail(ErrorKind::InvalidArgument, "back-off: want 0 < initial ({} ms) <= max ({} ms)",
                options.backoff_initial.count(), options.backoff_max.count());
  auto s = std::make_unique<SchedulerImpl>(std::move(api), std::move(options));
  s->start();
  return std::unique_ptr<Scheduler>(std::move(s));
}

}  // namespace deckhand::scheduler
