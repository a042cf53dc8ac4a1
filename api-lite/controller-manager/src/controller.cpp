#include "deckhand/controllers/controller.h"

#include "deckhand/common/log.h"

namespace deckhand::controllers {

QueueWorkers::QueueWorkers(std::string controller, client::WorkQueue& queue, SyncFn sync)
    : controller_(std::move(controller)), queue_(queue), sync_(std::move(sync)) {}

QueueWorkers::~QueueWorkers() { stop(); }

void QueueWorkers::start(int workers) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

void QueueWorkers::stop() {
  queue_.shut_down();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void QueueWorkers::work() {
  auto logger = log::get("controller-manager");
  while (auto key = queue_.get()) {
    auto r = sync_(*key);
    if (!r) {
      // Conflicts are the normal way of learning that our copy was stale.
      bool quiet = client::is_conflict(r.error()) || r.error().kind == ErrorKind::NotFound;
      if (quiet) logger->debug("{} {}: {} (will retry)", controller_, *key, r.error().message);
      else logger->warn("{} {}: {} (will retry)", controller_, *key, r.error().message);
      queue_.add_rate_limited(*key);
    } else {
      queue_.forget(*key);
      if (r->requeue_after.count() > 0) queue_.add_after(*key, r->requeue_after);
    }
    queue_.done(*key);
  }
}

}  // namespace deckhand::controllers
