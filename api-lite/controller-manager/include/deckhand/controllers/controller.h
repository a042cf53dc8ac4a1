// What every controller of deckhand-controller-manager is: handlers on the
// shared informers that turn changes into keys on the controller's own work
// queue, and worker threads that sync one key at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/common/result.h"

namespace deckhand::controllers {

class SharedInformers;

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string name() const = 0;
  // Starts `workers` threads; the shared informers have synced by then.
  virtual void run(int workers) = 0;
  // Stops the workers (the one in a sync finishes it first).
  virtual void stop() = 0;
};

// What a sync asks of its queue afterwards, beyond success or failure.
struct SyncResult {
  std::chrono::milliseconds requeue_after{0};  // > 0: look again then
};

// Worker threads over a queue: sync(key); a failure re-adds the key with
// back-off (and is logged), a success forgets its back-off.
class QueueWorkers {
 public:
  using SyncFn = std::function<Result<SyncResult>(const std::string& key)>;
  QueueWorkers(std::string controller, client::WorkQueue& queue, SyncFn sync);
  ~QueueWorkers();
  QueueWorkers(const QueueWorkers&) = delete;
  QueueWorkers& operator=(const QueueWorkers&) = delete;
  void start(int workers);
  // Shuts the queue down and joins the workers.
  void stop();

 private:
  void work();
  std::string controller_;
  client::WorkQueue& queue_;
  SyncFn sync_;
  std::vector<std::thread> threads_;
};

}  // namespace deckhand::controllers
