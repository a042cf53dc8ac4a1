// Garbage collection of what pods leave in the runtime, as kubelet does it:
// exited containers beyond a number per container (the newest dead ones
// stay, for lastState and `kubectl logs --previous`), and unused images when
// the image filesystem is fuller than a high watermark, down to a low one,
// least recently used first. (Sandboxes of deleted pods go with the pods:
// PodManager's relist sees to them.)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/cri/client.h"
#include "restart_backoff.h"

namespace deckhand::agent {

struct GcPolicy {
  int image_high_percent = 85;  // image GC starts when the image filesystem is this full (100: never)
  int image_low_percent = 80;   // and frees down to this
  std::chrono::milliseconds min_image_age{120000};  // an unused image stays at least this long after first seen
  int max_dead_per_container = 1;
};

// Bytes to free on a filesystem of this capacity with this much available:
// none below the high watermark, else down to the low one.
uint64_t bytes_to_free(uint64_t capacity, uint64_t available, const GcPolicy& policy);

struct ImageUse {
  std::string id;
  uint64_t size = 0;
  bool pinned = false;  // the runtime says keep it (a sandbox image)
  bool in_use = false;  // some container, running or not, was made from it
  Clock::time_point first_seen, last_used;
};

// The unused, unpinned images old enough to go, least recently used first,
// until their sizes add up to `to_free` (all of them if they do not).
std::vector<std::string> pick_images_to_free(std::vector<ImageUse> images, uint64_t to_free, Clock::time_point now,
                                             std::chrono::milliseconds min_age);

// Exited containers beyond max_dead per pod and container name, newest kept.
std::vector<std::string> pick_dead_containers(const std::vector<::runtime::v1::Container>& containers,
                                              int max_dead);

class GarbageCollector {
 public:
  GarbageCollector(std::shared_ptr<cri::CriClient> cri, GcPolicy policy);

  struct Report {
    std::vector<std::string> removed_containers, removed_images;
    uint64_t image_bytes_freed = 0;
  };
  // One pass: dead containers first (they may hold images), then images.
  Result<Report> collect();

 private:
  Status collect_images(const std::vector<::runtime::v1::Container>& containers, Report& report);

  std::shared_ptr<cri::CriClient> cri_;
  GcPolicy policy_;
  std::map<std::string, ImageUse> images_;  // by id: when each was first seen and last used
};

}  // namespace deckhand::agent
