#include "watch_hub.h"

#include <algorithm>
#include <exception>
#include <system_error>

#include "deckhand/common/log.h"

namespace deckhand::store {

WatchStream::WatchStream(std::string prefix, Revision after, WatchCallback callback)
    : prefix_(std::move(prefix)), after_(after), callback_(std::move(callback)) {}

WatchStream::~WatchStream() {
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

bool WatchStream::wants(const Event& event) const {
  return event.kv.mod_revision > after_ && event.kv.key.starts_with(prefix_);
}

void WatchStream::push(std::vector<Event> events) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    if (pending_.empty()) {
      pending_ = std::move(events);
    } else {
      pending_.insert(pending_.end(), std::make_move_iterator(events.begin()),
                      std::make_move_iterator(events.end()));
    }
  }
  wake_.notify_one();
}

void WatchStream::push_history(std::vector<Event> history) {
  {
    std::lock_guard lock(mu_);
    history.insert(history.end(), std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.end()));
    pending_ = std::move(history);
  }
  wake_.notify_one();
}

Status WatchStream::start() {
  try {
    thread_ = std::thread([self = shared_from_this()] { self->deliver_loop(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::ResourceExhausted, "start watch thread for {}: {}", prefix_, e.what());
  }
  return {};
}

void WatchStream::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    pending_.clear();
  }
  wake_.notify_one();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // called from our own callback: the loop ends after it returns
  } else {
    thread_.join();
  }
}

void WatchStream::deliver_loop() {
  std::vector<Event> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopped_ || !pending_.empty(); });
      if (stopped_) return;
      batch.swap(pending_);
    }
    try {
      callback_(batch);
    } catch (const std::exception& e) {
      log::get("store")->error("watch {}: callback threw: {}", prefix_, e.what());
    } catch (...) {
      log::get("store")->error("watch {}: callback threw", prefix_);
    }
    batch.clear();
  }
}

Revision WatchHub::add(std::shared_ptr<WatchStream> stream) {
  std::lock_guard lock(mu_);
  streams_.push_back(std::move(stream));
  return published_;
}

void WatchHub::remove(const WatchStream* stream) {
  std::lock_guard lock(mu_);
  std::erase_if(streams_, [&](const auto& s) { return s.get() == stream; });
}

void WatchHub::publish(const std::vector<Event>& events, Revision revision) {
  std::lock_guard lock(mu_);
  published_ = revision;
  for (const auto& stream : streams_) {
    std::vector<Event> wanted;
    for (const auto& event : events) {
      if (stream->wants(event)) wanted.push_back(event);
    }
    if (!wanted.empty()) stream->push(std::move(wanted));
  }
}

HubWatchHandle::~HubWatchHandle() {
  hub_->remove(stream_.get());
  stream_->stop();
}

}  // namespace deckhand::store
