#include "garbage_collector.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <set>

#include "deckhand/common/log.h"
#include "pod_config.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("agent"); }

struct FsSpace {
  uint64_t capacity = 0, available = 0;
};

Result<FsSpace> fs_space(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return sys_fail("statvfs {}", path);
  return FsSpace{static_cast<uint64_t>(st.f_blocks) * st.f_frsize, static_cast<uint64_t>(st.f_bavail) * st.f_frsize};
}

// Every name a container may know its image by: id, tags, digests.
bool made_from(const v1::Image& image, const std::set<std::string>& refs) {
  if (refs.count(image.id())) return true;
  for (const auto& t : image.repo_tags())
    if (refs.count(t)) return true;
  for (const auto& d : image.repo_digests())
    if (refs.count(d)) return true;
  return false;
}

}  // namespace

uint64_t bytes_to_free(uint64_t capacity, uint64_t available, const GcPolicy& policy) {
  if (capacity == 0 || policy.image_high_percent >= 100) return 0;
  uint64_t used = capacity - std::min(available, capacity);
  if (used * 100 < capacity * static_cast<uint64_t>(policy.image_high_percent)) return 0;
  uint64_t low_mark = capacity / 100 * static_cast<uint64_t>(policy.image_low_percent);
  return used > low_mark ? used - low_mark : 0;
}

std::vector<std::string> pick_images_to_free(std::vector<ImageUse> images, uint64_t to_free, Clock::time_point now,
                                             std::chrono::milliseconds min_age) {
  std::erase_if(images, [&](const ImageUse& i) { return i.in_use || i.pinned || now - i.first_seen < min_age; });
  std::sort(images.begin(), images.end(), [](const ImageUse& a, const ImageUse& b) {
    return a.last_used != b.last_used ? a.last_used < b.last_used : a.first_seen < b.first_seen;
  });
  std::vector<std::string> picked;
  uint64_t freed = 0;
  for (const auto& i : images) {
    if (freed >= to_free) break;
    picked.push_back(i.id);
    freed += i.size;
  }
  return picked;
}

std::vector<std::string> pick_dead_containers(const std::vector<v1::Container>& containers, int max_dead) {
  std::map<std::pair<std::string, std::string>, std::vector<const v1::Container*>> dead;
  for (const auto& c : containers) {
    // Created ones are about to start: a worker owns them.
    if (c.state() != v1::CONTAINER_EXITED && c.state() != v1::CONTAINER_UNKNOWN) continue;
    auto uid = c.labels().find(kPodUidLabel);
    if (uid == c.labels().end()) continue;  // not one of ours
    auto name = c.labels().find(kContainerNameLabel);
    dead[{uid->second, name == c.labels().end() ? c.metadata().name() : name->second}].push_back(&c);
  }
  std::vector<std::string> picked;
  for (auto& [key, list] : dead) {
    std::sort(list.begin(), list.end(),
              [](const v1::Container* a, const v1::Container* b) { return a->created_at() > b->created_at(); });
    for (size_t i = static_cast<size_t>(std::max(0, max_dead)); i < list.size(); ++i) picked.push_back(list[i]->id());
  }
  return picked;
}

GarbageCollector::GarbageCollector(std::shared_ptr<cri::CriClient> cri, GcPolicy policy)
    : cri_(std::move(cri)), policy_(policy) {}

Result<GarbageCollector::Report> GarbageCollector::collect() {
  Report report;
  DH_TRY(containers, with_context(cri_->list_containers(), "garbage collection: list containers"));
  for (const auto& id : pick_dead_containers(containers, policy_.max_dead_per_container)) {
    auto removed = cri_->remove_container(id);
    if (!removed && removed.error().kind != ErrorKind::NotFound) {
      logger()->warn("garbage collection: remove container {}: {}", id, removed.error().message);
      continue;
    }
    report.removed_containers.push_back(id);
  }
  if (!report.removed_containers.empty()) {
    std::set<std::string> gone(report.removed_containers.begin(), report.removed_containers.end());
    std::erase_if(containers, [&](const v1::Container& c) { return gone.count(c.id()); });
  }
  DH_CHECK(collect_images(containers, report));
  return report;
}

Status GarbageCollector::collect_images(const std::vector<v1::Container>& containers, Report& report) {
  DH_TRY(listed, with_context(cri_->list_images(), "garbage collection: list images"));
  std::set<std::string> refs;
  for (const auto& c : containers) {
    refs.insert(c.image_ref());
    refs.insert(c.image().image());
  }
  auto now = Clock::now();
  std::map<std::string, ImageUse> seen;
  for (const auto& image : listed) {
    ImageUse use = images_.count(image.id()) ? images_[image.id()] : ImageUse{image.id(), 0, false, false, now, now};
    use.size = image.size();
    use.pinned = image.pinned();
    use.in_use = made_from(image, refs);
    if (use.in_use) use.last_used = now;
    seen[image.id()] = use;
  }
  images_ = std::move(seen);  // images removed by others are forgotten

  if (policy_.image_high_percent >= 100) return {};
  DH_TRY(fs, with_context(cri_->image_fs_info(), "garbage collection: image filesystem"));
  if (fs.image_filesystems().empty()) return {};
  const std::string& mountpoint = fs.image_filesystems(0).fs_id().mountpoint();
  DH_TRY(space, with_context(fs_space(mountpoint), "garbage collection: image filesystem"));
  uint64_t to_free = bytes_to_free(space.capacity, space.available, policy_);
  if (to_free == 0) return {};
  std::vector<ImageUse> uses;
  for (const auto& [id, use] : images_) uses.push_back(use);
  for (const auto& id : pick_images_to_free(uses, to_free, now, policy_.min_image_age)) {
    auto removed = cri_->remove_image(id);
    if (!removed) {
      logger()->warn("garbage collection: remove image {}: {}", id, removed.error().message);
      continue;
    }
    report.removed_images.push_back(id);
    report.image_bytes_freed += images_[id].size;
    images_.erase(id);
  }
  if (report.image_bytes_freed < to_free)
    logger()->warn("garbage collection: the image filesystem {} wants {} bytes freed; {} were", mountpoint, to_free,
                   report.image_bytes_freed);
  return {};
}

}  // namespace deckhand::agent
