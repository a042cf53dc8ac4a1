// An in-process fake CRI runtime on a unix socket: a few RPCs with canned
// answers, the requests it got recorded for the tests to look at, and
// RuntimeService/ImageService/ImageImport's UNIMPLEMENTED for the rest.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deckhand_images.grpc.pb.h"
#include "runtime.grpc.pb.h"

namespace deckhand::test {

// Ids of the canned objects.
inline constexpr const char* kWebPodId = "a1b2c3d4e5f6a7b8c9d0e1f2";
inline constexpr const char* kDbPodId = "f0e1d2c3b4a5f6e7d8c9b0a1";
inline constexpr const char* kNginxId = "c0ffee00112233445566778899";
inline constexpr const char* kJobId = "deadbeef00112233445566778899";
inline constexpr const char* kBusyboxId =
    "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
inline constexpr const char* kNginxImage =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
// Calls about this id answer NOT_FOUND.
inline constexpr const char* kMissingId = "missing";

// What the fake answers with and what it was sent; guarded by mu.
struct FakeCriState {
  std::mutex mu;
  std::string log_path;
  ::runtime::v1::ContainerState container_state = ::runtime::v1::CONTAINER_EXITED;
  bool freeze_stats = false;  // ListContainerStats/ListPodSandboxStats keep one timestamp
  int stats_calls = 0;
  ::runtime::v1::RunPodSandboxRequest last_run_pod;
  ::runtime::v1::CreateContainerRequest last_create;
  ::runtime::v1::PullImageRequest last_pull;
  int64_t last_stop_timeout = -1;
  std::vector<std::string> calls;  // "StopContainer <id>", ...
};

class FakeCriServer {
 public:
  explicit FakeCriServer(const std::string& socket_path);
  ~FakeCriServer();
  FakeCriServer(const FakeCriServer&) = delete;
  FakeCriServer& operator=(const FakeCriServer&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  FakeCriState& state() { return *state_; }

 private:
  std::string endpoint_;
  std::shared_ptr<FakeCriState> state_;
  std::unique_ptr<grpc::Service> runtime_, images_, import_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace deckhand::test
