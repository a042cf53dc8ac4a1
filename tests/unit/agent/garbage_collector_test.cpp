#include "garbage_collector.h"

#include <doctest/doctest.h>

#include "pod_config.h"

using namespace deckhand;
using namespace deckhand::agent;
using namespace std::chrono_literals;
namespace v1 = ::runtime::v1;

TEST_CASE("bytes to free: nothing below the high watermark, else down to the low one") {
  GcPolicy p;  // 85 / 80
  CHECK(bytes_to_free(1000, 200, p) == 0);   // 80% used
  CHECK(bytes_to_free(1000, 151, p) == 0);   // 84.9%
  CHECK(bytes_to_free(1000, 150, p) == 50);  // 85%: down to 800
  CHECK(bytes_to_free(1000, 0, p) == 200);
  CHECK(bytes_to_free(0, 0, p) == 0);
  p.image_high_percent = 100;
  CHECK(bytes_to_free(1000, 0, p) == 0);  // disabled
}

TEST_CASE("images to free: unused, unpinned and old enough, least recently used first, until enough") {
  auto now = Clock::now();
  auto ago = [&](std::chrono::minutes m) { return now - m; };
  std::vector<ImageUse> images = {
      {"used", 100, false, true, ago(60min), ago(50min)},
      {"pinned", 100, true, false, ago(60min), ago(50min)},
      {"young", 100, false, false, ago(1min), ago(1min)},
      {"recent", 100, false, false, ago(60min), ago(5min)},
      {"stale", 100, false, false, ago(60min), ago(40min)},
      {"stalest", 100, false, false, ago(60min), ago(45min)},
  };
  CHECK(pick_images_to_free(images, 150, now, 2min) == std::vector<std::string>{"stalest", "stale"});
  CHECK(pick_images_to_free(images, 100, now, 2min) == std::vector<std::string>{"stalest"});
  CHECK(pick_images_to_free(images, 10000, now, 2min) == std::vector<std::string>{"stalest", "stale", "recent"});
  CHECK(pick_images_to_free(images, 10000, now, 0ms) ==
        std::vector<std::string>{"stalest", "stale", "recent", "young"});
  CHECK(pick_images_to_free(images, 0, now, 0ms).empty());
}

namespace {

v1::Container container(const std::string& id, const std::string& uid, const std::string& name, v1::ContainerState s,
                        int64_t created) {
  v1::Container c;
  c.set_id(id);
  c.set_state(s);
  c.set_created_at(created);
  if (!uid.empty()) (*c.mutable_labels())[kPodUidLabel] = uid;
  (*c.mutable_labels())[kContainerNameLabel] = name;
  return c;
}

}  // namespace

TEST_CASE("dead containers: beyond the number kept per pod and container name, oldest first; others never") {
  std::vector<v1::Container> list = {
      container("a1", "pod-a", "main", v1::CONTAINER_EXITED, 1),
      container("a2", "pod-a", "main", v1::CONTAINER_EXITED, 3),
      container("a3", "pod-a", "main", v1::CONTAINER_EXITED, 2),
      container("a4", "pod-a", "main", v1::CONTAINER_RUNNING, 4),
      container("a5", "pod-a", "side", v1::CONTAINER_EXITED, 1),
      container("b1", "pod-b", "main", v1::CONTAINER_EXITED, 1),
      container("b2", "pod-b", "main", v1::CONTAINER_CREATED, 0),  // about to start
      container("x1", "", "main", v1::CONTAINER_EXITED, 0),        // not made by an agent
  };
  auto picked = pick_dead_containers(list, 1);
  std::sort(picked.begin(), picked.end());
  CHECK(picked == std::vector<std::string>{"a1", "a3"});
  picked = pick_dead_containers(list, 0);
  std::sort(picked.begin(), picked.end());
  CHECK(picked == std::vector<std::string>{"a1", "a2", "a3", "a5", "b1"});
  CHECK(pick_dead_containers(list, 3).empty());
}
