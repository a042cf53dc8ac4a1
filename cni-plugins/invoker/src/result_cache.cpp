#include "deckhand/cni/result_cache.h"

#include <unistd.h>

#include <cerrno>

#include "deckhand/cni/netconf.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::cni {

namespace {

// The kind tag says which layout the file has, should it ever change.
constexpr const char* kKind = "deckhandCniCacheV1";

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Json to_json(const CachedAttachment& a) {
  return Json{{"kind", kKind},
              {"networkName", a.network_name},
              {"containerId", a.container_id},
              {"ifName", a.ifname},
              {"cniArgs", a.cni_args},
              {"capabilityArgs", a.capability_args},
              {"config", a.config},
              {"result", a.result}};
}

}  // namespace

std::string ResultCache::path(const std::string& network, const std::string& container_id,
                              const std::string& ifname) const {
  return fs::join(dir_, network + "-" + container_id + "-" + ifname);
}

Status ResultCache::put(const CachedAttachment& a) const {
  DH_CHECK(fs::make_dirs(dir_, 0700));
  return with_context(
      fs::write_file_atomic(path(a.network_name, a.container_id, a.ifname), json_text(to_json(a)), 0600,
                            fs::Durability::ProcessCrash),
      "keep CNI result of container {}", a.container_id);
}

std::optional<CachedAttachment> ResultCache::load(const std::string& file) const {
  auto j = read_json_file(file);
  if (!j) {
    if (j.error().kind != ErrorKind::NotFound)
      log::get("cni")->warn("ignoring kept CNI result {}", j.error().message);
    return std::nullopt;
  }
  if (!j->is_object() || str(*j, "kind") != kKind) {
    log::get("cni")->warn("ignoring kept CNI result {}: not a {} file", file, kKind);
    return std::nullopt;
  }
  CachedAttachment a;
  a.network_name = str(*j, "networkName");
  a.container_id = str(*j, "containerId");
  a.ifname = str(*j, "ifName");
  a.cni_args = str(*j, "cniArgs");
  if (auto c = j->find("capabilityArgs"); c != j->end() && c->is_object()) a.capability_args = *c;
  if (auto c = j->find("config"); c != j->end()) a.config = *c;
  if (auto r = j->find("result"); r != j->end()) a.result = *r;
  return a;
}

std::optional<CachedAttachment> ResultCache::get(const std::string& network, const std::string& container_id,
                                                 const std::string& ifname) const {
  auto a = load(path(network, container_id, ifname));
  if (a && (a->container_id != container_id || a->ifname != ifname || a->network_name != network))
    return std::nullopt;
  return a;
}

std::optional<CachedAttachment> ResultCache::find(const std::string& container_id,
                                                  const std::string& ifname) const {
  // Network names may hold '-': match the suffix, then trust the file's fields.
  std::string suffix = "-" + container_id + "-" + ifname;
  auto names = fs::list_dir(dir_);
  if (!names) return std::nullopt;
  for (const auto& name : *names) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    auto a = load(fs::join(dir_, name));
    if (a && a->container_id == container_id && a->ifname == ifname) return a;
  }
  return std::nullopt;
}

std::vector<CachedAttachment> ResultCache::all() const {
  std::vector<CachedAttachment> out;
  auto names = fs::list_dir(dir_);
  if (!names) return out;
  for (const auto& name : *names) {
    if (name.find(".tmp") != std::string::npos) continue;
    if (auto a = load(fs::join(dir_, name))) out.push_back(std::move(*a));
  }
  return out;
}

Status ResultCache::remove(const std::string& network, const std::string& container_id,
                           const std::string& ifname) const {
  std::string file = path(network, container_id, ifname);
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) return sys_fail("remove kept CNI result {}", file);
  return {};
}

}  // namespace deckhand::cni
