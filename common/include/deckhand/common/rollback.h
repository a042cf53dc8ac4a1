// Cleanup steps that undo what a half-done operation made, run in reverse
// order when the operation fails (the Rollback is destroyed without dismiss()).
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace deckhand {

class Rollback {
 public:
  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  // Steps must not throw; they log or ignore their own failures.
  template <typename F>
  void add(F&& f) { steps_.emplace_back(std::forward<F>(f)); }
  // The operation succeeded: keep what it made.
  void dismiss() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

}  // namespace deckhand
