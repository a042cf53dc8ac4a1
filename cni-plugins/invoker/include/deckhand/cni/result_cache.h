// The results of ADD kept on disk, one file per (network, container, ifname),
// so that DEL and CHECK send the same prevResult and config after a restart
// (as libcni's result cache does).
#pragma once

#include <optional>
#include <string>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::cni {

struct CachedAttachment {
  std::string network_name, container_id, ifname;
  std::string cni_args;
  Json capability_args = Json::object();
  Json config;  // the network config list used for ADD
  Json result;  // the final result of ADD
};

class ResultCache {
 public:
  explicit ResultCache(std::string dir) : dir_(std::move(dir)) {}

  std::string path(const std::string& network, const std::string& container_id,
                   const std::string& ifname) const;
  Status put(const CachedAttachment& a) const;
  // The kept attachment of the network, or nullopt when there is none (an
  // unreadable or corrupt file counts as none and is logged).
  std::optional<CachedAttachment> get(const std::string& network, const std::string& container_id,
                                      const std::string& ifname) const;
  // The kept attachment of the container on ifname in any network (for DEL
  // after the config changed or went away).
  std::optional<CachedAttachment> find(const std::string& container_id, const std::string& ifname) const;
  // Every kept attachment (for GC).
  std::vector<CachedAttachment> all() const;
  // Removing a missing file is fine.
  Status remove(const std::string& network, const std::string& container_id, const std::string& ifname) const;

 private:
  std::optional<CachedAttachment> load(const std::string& file) const;
  std::string dir_;
};

}  // namespace deckhand::cni
