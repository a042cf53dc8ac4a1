// A deckhand-apiserver inside the test process (plain HTTP on 127.0.0.1, a
// free port, its data in a temporary dir) and API clients for it: what unit
// tests of API clients (leader election, scheduler) run against.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include "deckhand/apiserver/api_server.h"
#include "deckhand/client/api_client.h"
#include "test_env.h"

namespace deckhand::test {

struct LocalApi {
  TempDir dir;
  std::unique_ptr<apiserver::ApiServer> server;
  std::shared_ptr<client::ApiClient> client;

  explicit LocalApi(const std::string& prefix = "deckhand-local-api") : dir(prefix) {
    apiserver::ApiServerOptions o;
    o.data_dir = dir.sub("data");
    o.admin_kubeconfig = dir.sub("admin.kubeconfig");
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.insecure_http = true;
    auto started = apiserver::ApiServer::start(o);
    REQUIRE_MESSAGE(started, (started ? "" : started.error().message));
    server = std::move(*started);
    client = new_client();
  }

  // request_timeout 0: the client's default.
  std::shared_ptr<client::ApiClient> new_client(std::chrono::milliseconds request_timeout = {}) {
    client::ClientConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(server->port());
    if (request_timeout.count() > 0) c.request_timeout = request_timeout;
    auto made = client::ApiClient::create(c);
    REQUIRE_MESSAGE(made, (made ? "" : made.error().message));
    return *made;
  }
};

}  // namespace deckhand::test
