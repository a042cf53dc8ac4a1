// CriClient against the fake CRI server: round trips, error mapping, connect
// failures and deadlines.
#include "deckhand/cri/client.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>

#include "deckhand/common/fs.h"
#include "fake_cri_server.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cri;
using deckhand::test::FakeCriServer;
using deckhand::test::TempDir;
namespace rt = ::runtime::v1;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  TempDir dir{"deckhand-cri-client"};
  FakeCriServer server{dir.sub("cri.sock")};
  std::unique_ptr<CriClient> client;
  Fixture() {
    auto c = CriClient::connect(server.endpoint(), 5s);
    REQUIRE_MESSAGE(c, c.error().message);
    client = std::move(*c);
  }
};

}  // namespace

TEST_CASE("grpc code <-> error kind mapping") {
  const std::pair<int, ErrorKind> pairs[] = {
      {3, ErrorKind::InvalidArgument},    {5, ErrorKind::NotFound},         {6, ErrorKind::AlreadyExists},
      {9, ErrorKind::FailedPrecondition}, {14, ErrorKind::Unavailable},     {4, ErrorKind::DeadlineExceeded},
      {12, ErrorKind::Unimplemented},     {7, ErrorKind::PermissionDenied}, {8, ErrorKind::ResourceExhausted},
      {13, ErrorKind::Internal},
  };
  for (const auto& [code, kind] : pairs) {
    CHECK(kind_from_grpc(code) == kind);
    CHECK(grpc_code_from_kind(kind) == code);
  }
  CHECK(kind_from_grpc(2) == ErrorKind::Internal);  // UNKNOWN
  CHECK(kind_from_grpc(1) == ErrorKind::Internal);  // CANCELLED
  CHECK(kind_from_grpc(99) == ErrorKind::Internal);
  CHECK(grpc_code_name(5) == "NotFound");
  CHECK(grpc_code_name(4) == "DeadlineExceeded");
  CHECK(grpc_code_name(99) == "Code(99)");
}

TEST_CASE("socket_path_from_endpoint") {
  CHECK(*socket_path_from_endpoint("unix:///run/deckhand/cri.sock") == "/run/deckhand/cri.sock");
  CHECK(*socket_path_from_endpoint("unix:/run/x.sock") == "/run/x.sock");
  CHECK(*socket_path_from_endpoint("/run/x.sock") == "/run/x.sock");
  CHECK(socket_path_from_endpoint("tcp://127.0.0.1:1234").error().kind == ErrorKind::InvalidArgument);
  CHECK(!socket_path_from_endpoint("unix://"));
}

TEST_CASE("connect to a missing socket fails quickly with Unavailable naming the endpoint") {
  TempDir dir("deckhand-cri-client");
  std::string endpoint = "unix://" + dir.sub("nothing.sock");
  auto start = std::chrono::steady_clock::now();
  auto c = CriClient::connect(endpoint, 10s);
  REQUIRE(!c);
  CHECK(c.error().kind == ErrorKind::Unavailable);
  CHECK(c.error().message.find(endpoint) != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("connect to a socket nobody listens on fails with Unavailable after the timeout") {
  TempDir dir("deckhand-cri-client");
  std::string path = dir.sub("stale.sock");
  {
    // A socket file left by a runtime that died.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  auto start = std::chrono::steady_clock::now();
  auto c = CriClient::connect(path, 300ms);
  REQUIRE(!c);
  CHECK(c.error().kind == ErrorKind::Unavailable);
  CHECK(c.error().message.find(path) != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

TEST_CASE("connect to a file that is not a socket fails with Unavailable") {
  TempDir dir("deckhand-cri-client");
  REQUIRE(fs::write_file_atomic(dir.sub("file"), "x"));
  auto c = CriClient::connect(dir.sub("file"), 1s);
  REQUIRE(!c);
  CHECK(c.error().kind == ErrorKind::Unavailable);
}

TEST_CASE_FIXTURE(Fixture, "runtime round trips") {
  auto v = client->version();
  REQUIRE(v);
  CHECK(v->runtime_name() == "fake-cri");
  CHECK(v->runtime_api_version() == "v1");

  auto pods = client->list_pod_sandbox();
  REQUIRE(pods);
  CHECK(pods->size() == 2);
  rt::PodSandboxFilter ready;
  ready.mutable_state()->set_state(rt::SANDBOX_NOTREADY);
  CHECK(client->list_pod_sandbox(ready)->size() == 1);

  rt::PodSandboxConfig config;
  config.mutable_metadata()->set_name("p1");
  auto id = client->run_pod_sandbox(config, "runc");
  REQUIRE(id);
  CHECK(*id == "pod-p1");
  {
    std::lock_guard lock(server.state().mu);
    CHECK(server.state().last_run_pod.runtime_handler() == "runc");
  }

  rt::ContainerConfig cc;
  cc.mutable_metadata()->set_name("c1");
  CHECK(*client->create_container("pod-p1", cc, config) == "ctr-c1");
  CHECK(client->start_container("ctr-c1"));
  CHECK(client->stop_container("ctr-c1", 7));
  CHECK(server.state().last_stop_timeout == 7);

  auto exec = client->exec_sync("ctr-c1", {"echo", "hi"}, 0);
  REQUIRE(exec);
  CHECK(exec->stdout() == "echo hi\n");
  CHECK(exec->exit_code() == 3);

  auto stats = client->list_container_stats();
  REQUIRE(stats);
  CHECK(stats->at(0).attributes().metadata().name() == "nginx");
}

TEST_CASE_FIXTURE(Fixture, "image round trips") {
  auto images = client->list_images();
  REQUIRE(images);
  CHECK(images->size() == 2);
  auto present = client->image_status("busybox", false);
  REQUIRE(present);
  CHECK(present->image().id() == test::kBusyboxId);
  auto absent = client->image_status("nope", false);
  REQUIRE(absent);
  CHECK(absent->image().id().empty());

  rt::AuthConfig auth;
  auth.set_username("u");
  auth.set_password("p");
  auto ref = client->pull_image("busybox", auth);
  REQUIRE(ref);
  CHECK(*ref == test::kBusyboxId);
  CHECK(server.state().last_pull.auth().username() == "u");
  CHECK(!server.state().last_pull.has_sandbox_config());

  auto imported = client->import_image("/some/archive.tar");
  REQUIRE(imported);
  REQUIRE(imported->size() == 1);
  CHECK(imported->at(0).repo_tags(0) == "localhost/test:1");
}

TEST_CASE_FIXTURE(Fixture, "a failed call carries the kind, the RPC, the code and the server's message") {
  auto st = client->stop_container(test::kMissingId, 0);
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::NotFound);
  CHECK(st.error().message == "StopContainer: NotFound: container missing not found");

  auto status = client->container_status(test::kMissingId, false);
  REQUIRE(!status);
  CHECK(status.error().message == "ContainerStatus: NotFound: container missing not found");

  // The fake leaves ReopenContainerLog to gRPC's default.
  auto reopen = client->reopen_container_log("x");
  REQUIRE(!reopen);
  CHECK(reopen.error().kind == ErrorKind::Unimplemented);
  CHECK(reopen.error().message.starts_with("ReopenContainerLog: Unimplemented: "));
}

TEST_CASE_FIXTURE(Fixture, "a call that outlives its deadline fails with DeadlineExceeded") {
  client->set_timeout(200ms);
  auto start = std::chrono::steady_clock::now();
  auto r = client->exec_sync("c", {"sleep"}, 0);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::DeadlineExceeded);
  CHECK(r.error().message.starts_with("ExecSync: DeadlineExceeded: "));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}
