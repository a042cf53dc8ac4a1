// The agent's GarbageCollector against a real deckhand-cri: dead containers
// beyond the number kept per container go, newest kept; unused images go
// when the image filesystem is over the high watermark, never one a
// container was made from, never one seen for less than the minimum age.
#include "garbage_collector.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "cri_world.h"
#include "pod_config.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;
namespace v1 = ::runtime::v1;

namespace {

const char* kBusybox = "deckhand.test/busybox:latest";
const char* kLayered = "deckhand.test/busybox:2layer";

// Runs a container of this name and attempt to its exit (it runs `true`).
std::string run_to_exit(CriWorld& cri, const std::string& sandbox, const v1::PodSandboxConfig& pod,
                        const std::string& name, uint32_t attempt) {
  auto c = cri.container_config(name, {"true"});
  c.mutable_metadata()->set_attempt(attempt);
  (*c.mutable_labels())[agent::kPodUidLabel] = pod.metadata().uid();
  (*c.mutable_labels())[agent::kContainerNameLabel] = name;
  auto id = cri.client().create_container(sandbox, c, pod);
  REQUIRE_MESSAGE(id, id.error().message);
  REQUIRE(cri.client().start_container(*id));
  REQUIRE(eventually([&] {
    auto s = cri.client().container_status(*id, false);
    return s && s->status().state() == v1::CONTAINER_EXITED;
  }, 10s));
  return *id;
}

bool has_image(CriWorld& cri, const std::string& ref) {
  auto s = cri.client().image_status(ref, false);
  return s && !s->image().id().empty();
}

}  // namespace

TEST_CASE("garbage collection: dead containers beyond the limit, and unused images over the watermark") {
  CriWorld cri;
  cri.start();
  cri.import_busybox();
  auto layered = cri.client().import_image(build_path("tests/fixtures/busybox-2layer-oci.tar"));
  REQUIRE_MESSAGE(layered, layered.error().message);
  REQUIRE(has_image(cri, kLayered));

  auto pod = cri.pod_config("gc");
  auto sandbox = cri.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(sandbox, sandbox.error().message);
  std::vector<std::string> job;  // oldest first
  for (uint32_t attempt = 0; attempt < 3; ++attempt) job.push_back(run_to_exit(cri, *sandbox, pod, "job", attempt));
  std::string other = run_to_exit(cri, *sandbox, pod, "other", 0);

  // A young unused image stays, however full the disk.
  agent::GcPolicy policy{1, 0, std::chrono::hours(1), 1};
  agent::GarbageCollector gc(std::shared_ptr<cri::CriClient>(&cri.client(), [](cri::CriClient*) {}), policy);
  auto first = gc.collect();
  REQUIRE_MESSAGE(first, first.error().message);
  std::vector<std::string> removed = first->removed_containers;
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> oldest_two = {job[0], job[1]};
  std::sort(oldest_two.begin(), oldest_two.end());
  CHECK(removed == oldest_two);
  CHECK(first->removed_images.empty());
  auto left = cri.client().list_containers();
  REQUIRE(left);
  CHECK(left->size() == 2);  // job's newest and other's only
  CHECK(has_image(cri, kLayered));

  // Old enough now: the unused image goes; the one the containers were made from stays.
  agent::GcPolicy eager{1, 0, 0ms, 1};
  agent::GarbageCollector eager_gc(std::shared_ptr<cri::CriClient>(&cri.client(), [](cri::CriClient*) {}), eager);
  auto second = eager_gc.collect();
  REQUIRE_MESSAGE(second, second.error().message);
  CHECK(second->removed_containers.empty());
  REQUIRE(second->removed_images.size() == 1);
  CHECK(second->image_bytes_freed > 0);
  CHECK_FALSE(has_image(cri, kLayered));
  CHECK(has_image(cri, kBusybox));

  // Below the high watermark nothing is removed, even unused: the busybox
  // image is unused once its containers are gone.
  for (const auto& c : *left) REQUIRE(cri.client().remove_container(c.id()));
  agent::GcPolicy full_only{100, 0, 0ms, 1};
  agent::GarbageCollector idle_gc(std::shared_ptr<cri::CriClient>(&cri.client(), [](cri::CriClient*) {}), full_only);
  auto third = idle_gc.collect();
  REQUIRE(third);
  CHECK(third->removed_images.empty());
  CHECK(has_image(cri, kBusybox));
  REQUIRE(cri.client().stop_pod_sandbox(*sandbox));
  REQUIRE(cri.client().remove_pod_sandbox(*sandbox));
}
