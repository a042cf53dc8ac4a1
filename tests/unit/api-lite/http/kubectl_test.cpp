// The real kubectl (Go's crypto/tls and net/http) against our server, with a
// kubeconfig from make_kubeconfig: proves that Go accepts our certificates and
// talks HTTP/1.1 after ALPN.
#include <doctest/doctest.h>
#include <unistd.h>

#include <mutex>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/http/server.h"
#include "test_env.h"
#include "test_pki.h"

using namespace deckhand;
using namespace deckhand::http;

namespace {
constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
}

TEST_CASE("kubectl 1.33 get --raw /version over HTTPS with a client certificate") {
  if (::access(kKubectl, X_OK) != 0) {
    MESSAGE("skipped: ", kKubectl, " is not installed");
    return;
  }
  const auto& pki = http::test::test_pki();
  std::mutex mu;
  std::vector<std::string> seen;  // "user groups path"
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.tls = pki.tls();
  auto server = HttpServer::start(options, [&](const Request& req, Responder& r) {
    {
      std::lock_guard lock(mu);
      std::string groups;
      for (const auto& g : req.peer.groups) groups += g + ",";
      seen.push_back(req.peer.user + " " + groups + " " + req.path);
    }
    if (req.path != "/version") {
      r.send(Response{404, {{"Content-Type", "application/json"}}, "{}"});
      return;
    }
    r.send(Response{
        200, {{"Content-Type", "application/json"}}, R"({"major":"1","minor":"33","gitVersion":"v1.33.0"})"});
  });
  REQUIRE_MESSAGE(server, (server ? "" : server.error().message));

  deckhand::test::TempDir home;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    std::string config_file = home.sub("kubeconfig-" + host);
    std::string url = fmt::format("https://{}:{}", host, (*server)->port());
    REQUIRE(
        fs::write_file_atomic(config_file, make_kubeconfig(url, pki.ca.cert_pem, "admin", pki.admin), 0600));
    RunOptions run;
    run.argv = {kKubectl, "--kubeconfig", config_file, "get", "--raw", "/version"};
    run.env = std::vector<std::string>{"HOME=" + home.path(), "PATH=/usr/bin:/bin"};
    run.timeout = std::chrono::seconds(30);
    auto out = run_process(run);
    REQUIRE(out);
    INFO("stderr: ", out->err);
    CHECK(out->exit_code == 0);
    CHECK(out->out.find("\"gitVersion\":\"v1.33.0\"") != std::string::npos);
  }
  std::lock_guard lock(mu);
  REQUIRE(!seen.empty());
  for (const auto& s : seen) CHECK(s == "admin system:masters,ops, /version");
}
