// A work queue of object keys for control loops, as client-go's: a key is
// queued at most once; a key added while being processed is processed again
// after done(); failures come back later with per-key exponential back-off;
// delayed adds. Thread-safe; any number of workers may get().
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace deckhand::client {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};       // first retry of a failing key
  std::chrono::milliseconds max_delay{300000};   // doubling stops here
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // add_after with this key's next back-off (base * 2^failures, capped).
  void add_rate_limited(const std::string& key);
  // Resets the key's back-off (after a success).
  void forget(const std::string& key);
  int failures(const std::string& key);

  // Blocks until a key is ready (or the queue shuts down: nullopt). The key
  // is then "processing" until done(key).
  std::optional<std::string> get();
  std::optional<std::string> get_for(std::chrono::milliseconds timeout);
  void done(const std::string& key);

  // Wakes every get() with nullopt; later adds are ignored.
  void shut_down();
  size_t size();  // keys ready now

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace deckhand::client
