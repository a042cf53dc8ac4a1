// Live delivery of committed events to watches, private to the store.
//
// The writer publishes each commit's events to the hub after COMMIT. A new
// watch registers with the hub first and learns the revision published at
// that moment (live_from); it then reads its history (after, live_from] from
// the database itself and puts it in front of whatever live events arrived
// meanwhile. Every revision is thus delivered exactly once, in order.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "deckhand/store/store.h"

namespace deckhand::store {

using WatchCallback = std::function<void(const std::vector<Event>&)>;

// One watch's queue and the thread that serves it: callbacks of one watch run
// one at a time, in revision order.
class WatchStream : public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(std::string prefix, Revision after, WatchCallback callback);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  bool wants(const Event& event) const;
  // Appends live events (already filtered by wants()).
  void push(std::vector<Event> events);
  // Puts history in front of the live events queued so far.
  void push_history(std::vector<Event> history);
  Status start();
  // No callback runs after stop() returns, unless stop() is called from the
  // callback itself: then the current callback finishes and no other follows.
  void stop();

  const std::string& prefix() const { return prefix_; }
  Revision after() const { return after_; }

 private:
  void deliver_loop();

  const std::string prefix_;
  const Revision after_;
  const WatchCallback callback_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Event> pending_;
  bool stopped_ = false;
  std::thread thread_;
};

class WatchHub {
 public:
  explicit WatchHub(Revision published) : published_(published) {}

  // Registers stream for live events; returns the last revision published
  // before it, which the stream must read from history itself.
  Revision add(std::shared_ptr<WatchStream> stream);
  void remove(const WatchStream* stream);
  // Hands the events of one commit, which ends at revision, to every stream that wants them.
  void publish(const std::vector<Event>& events, Revision revision);

 private:
  std::mutex mu_;
  Revision published_;
  std::vector<std::shared_ptr<WatchStream>> streams_;
};

// What watch() returns: unregisters and stops the stream when destroyed. It
// shares the hub, so it may outlive the store (it then just receives nothing).
class HubWatchHandle : public WatchHandle {
 public:
  HubWatchHandle(std::shared_ptr<WatchHub> hub, std::shared_ptr<WatchStream> stream)
      : hub_(std::move(hub)), stream_(std::move(stream)) {}
  ~HubWatchHandle() override;

 private:
  std::shared_ptr<WatchHub> hub_;
  std::shared_ptr<WatchStream> stream_;
};

}  // namespace deckhand::store
