// What the server does to an object before it is stored: defaults as
// Kubernetes' defaulting and admission plugins apply them, and validation of
// the fields this server and its components rely on.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api_error.h"
#include "resources.h"

namespace deckhand::apiserver {

// Applies defaults in place (pods, pod templates, deployments, replica sets,
// daemon sets, services, namespaces).
void apply_defaults(const ResourceInfo& info, Json& object);

// 422 Invalid with the causes, or nothing.
ApiResult<void> validate(const ResourceInfo& info, const Json& object);

// Hands out service cluster IPs from a CIDR (IPv4). Thread-safe.
class ClusterIpAllocator {
 public:
  static Result<std::unique_ptr<ClusterIpAllocator>> from_cidr(const std::string& cidr);
  // Marks an IP in use (on start, for the services already stored).
  void mark_used(const std::string& ip);
  void release(const std::string& ip);
  // A free IP, or an explicit one if free and in range. Error texts name the IP.
  ApiResult<std::string> allocate(const std::string& requested);

 private:
  ClusterIpAllocator(uint32_t base, uint32_t size) : base_(base), size_(size) {}
  uint32_t base_ = 0;
  uint32_t size_ = 0;
  std::mutex mu_;
  std::set<uint32_t> used_;
  uint32_t next_ = 10;  // the first few are kept for well-known services (kubernetes, DNS)
};

}  // namespace deckhand::apiserver
