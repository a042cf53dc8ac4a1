#include "deckhand/http/server.h"

#include <doctest/doctest.h>
#include <poll.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "deckhand/common/json.h"
#include "test_client.h"
#include "test_env.h"
#include "test_pki.h"

using namespace deckhand;
using namespace deckhand::http;
using namespace std::chrono_literals;
using deckhand::http::test::ClientRequest;
using deckhand::http::test::fetch;
using deckhand::http::test::test_pki;
using deckhand::test::eventually;
namespace hc = deckhand::http::test;

namespace {

std::unique_ptr<HttpServer> start_server(ServerOptions options, Handler handler) {
  auto server = HttpServer::start(std::move(options), std::move(handler));
  REQUIRE_MESSAGE(server, (server ? "" : server.error().message));
  return std::move(*server);
}

ServerOptions tls_options(bool client_certs = true) {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.tls = test_pki().tls(client_certs);
  return options;
}

ServerOptions plain_options() {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  return options;
}

std::string https_url(const HttpServer& server, const std::string& target) {
  return fmt::format("https://localhost:{}{}", server.port(), target);
}
std::string http_url(const HttpServer& server, const std::string& target) {
  return fmt::format("http://127.0.0.1:{}{}", server.port(), target);
}

ClientRequest as_admin() {
  ClientRequest r;
  r.ca_pem = test_pki().ca.cert_pem;
  r.cert_pem = test_pki().admin.cert_pem;
  r.key_pem = test_pki().admin.key_pem;
  return r;
}
ClientRequest anonymous() {
  ClientRequest r;
  r.ca_pem = test_pki().ca.cert_pem;
  return r;
}

// Answers with a JSON description of the request.
void echo(const Request& req, Responder& responder) {
  Json query = Json::array();
  for (const auto& [k, v] : req.query) query.push_back({k, v});
  Json j = {{"method", req.method},
            {"target", req.target},
            {"path", req.path},
            {"query", query},
            {"body", req.body},
            {"x_test", req.header("x-test").value_or("")},
            {"watch", req.query_param("watch").value_or("")},
            {"has_client_cert", req.peer.has_client_cert},
            {"user", req.peer.user},
            {"groups", req.peer.groups},
            {"remote", req.remote_address}};
  responder.send(Response{200, {{"Content-Type", "application/json"}}, j.dump()});
}

Json body_json(const hc::ClientResponse& response) {
  auto j = parse_json(response.body, "response");
  REQUIRE_MESSAGE(j, response.body);
  return *j;
}

// Waits up to timeout without sleeping through it blindly (handlers use it
// to wait for the client).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::poll(nullptr, 0, 2);
  }
  return true;
}

}  // namespace

TEST_CASE("HTTPS GET and POST reach the handler decoded, with the client certificate's identity") {
  auto server = start_server(tls_options(), echo);
  CHECK(server->port() != 0);

  auto get =
      fetch(https_url(*server, "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb+x&watch=true"), [] {
        auto r = as_admin();
        r.headers = {"X-Test: hello"};
        return r;
      }());
  REQUIRE_MESSAGE(get.code == CURLE_OK, get.error);
  CHECK(get.status == 200);
  Json j = body_json(get);
  CHECK(j["method"] == "GET");
  CHECK(j["path"] == "/api/v1/namespaces/a b/pods");
  CHECK(j["target"] == "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb+x&watch=true");
  CHECK(j["query"] == Json::parse(R"([["labelSelector","app=web x"],["watch","true"]])"));
  CHECK(j["watch"] == "true");
  CHECK(j["x_test"] == "hello");
  CHECK(j["has_client_cert"] == true);
  CHECK(j["user"] == "admin");
  CHECK(j["groups"] == Json::parse(R"(["system:masters","ops"])"));
  CHECK(j["remote"].get<std::string>().rfind("127.0.0.1:", 0) == 0);

  auto post_request = as_admin();
  post_request.method = "POST";
  post_request.body = R"({"kind":"Pod"})";
  post_request.headers = {"Content-Type: application/json"};
  auto post = fetch(https_url(*server, "/api/v1/namespaces/default/pods"), post_request);
  REQUIRE_MESSAGE(post.code == CURLE_OK, post.error);
  CHECK(body_json(post)["method"] == "POST");
  CHECK(body_json(post)["body"] == R"({"kind":"Pod"})");
}

TEST_CASE("HTTPS without a client certificate is anonymous; one from another CA fails the handshake") {
  auto server = start_server(tls_options(), echo);
  auto anon = fetch(https_url(*server, "/healthz"), anonymous());
  REQUIRE_MESSAGE(anon.code == CURLE_OK, anon.error);
  CHECK(body_json(anon)["has_client_cert"] == false);
  CHECK(body_json(anon)["user"] == "");

  auto stranger_ca = make_ca("stranger");
  REQUIRE(stranger_ca);
  auto stranger = issue_client_cert(*stranger_ca, "mallory", {"system:masters"});
  REQUIRE(stranger);
  auto bad = anonymous();
  bad.cert_pem = stranger->cert_pem;
  bad.key_pem = stranger->key_pem;
  auto refused = fetch(https_url(*server, "/healthz"), bad);
  CHECK(refused.code != CURLE_OK);
  CHECK(refused.status == 0);

  // A server without client_ca_file asks for no certificate.
  auto no_ca = start_server(tls_options(false), echo);
  auto r = fetch(https_url(*no_ca, "/"), as_admin());
  REQUIRE_MESSAGE(r.code == CURLE_OK, r.error);
  CHECK(body_json(r)["has_client_cert"] == false);
}

TEST_CASE("ALPN: a client offering h2 gets HTTP/1.1") {
  auto server = start_server(tls_options(), echo);
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, https_url(*server, "/").c_str());
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_blob ca{const_cast<char*>(test_pki().ca.cert_pem.data()), test_pki().ca.cert_pem.size(),
               CURL_BLOB_COPY};
  curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
  CHECK(curl_easy_perform(curl) == CURLE_OK);
  long version = 0;
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
  CHECK(version == CURL_HTTP_VERSION_1_1);
  curl_easy_cleanup(curl);
}

TEST_CASE("a body over max_body_bytes gets 413 with a Status, and the handler is not called") {
  std::atomic<int> calls{0};
  auto options = tls_options();
  options.max_body_bytes = 1024;
  auto server = start_server(options, [&](const Request& req, Responder& r) {
    ++calls;
    echo(req, r);
  });
  auto post = as_admin();
  post.method = "POST";
  post.body = std::string(1024, 'a');
  auto at_limit = fetch(https_url(*server, "/x"), post);
  REQUIRE_MESSAGE(at_limit.code == CURLE_OK, at_limit.error);
  CHECK(at_limit.status == 200);
  CHECK(calls == 1);

  // Content-Length says too much, and a chunked body turns out too long.
  for (bool chunked : {false, true}) {
    CAPTURE(chunked);
    post.body = std::string(64 * 1024, 'b');
    if (chunked) post.headers = {"Transfer-Encoding: chunked"};
    auto too_big = fetch(https_url(*server, "/x"), post);
    REQUIRE_MESSAGE(too_big.code == CURLE_OK, too_big.error);
    CHECK(too_big.status == 413);
    Json status = body_json(too_big);
    CHECK(status["kind"] == "Status");
    CHECK(status["apiVersion"] == "v1");
    CHECK(status["status"] == "Failure");
    CHECK(status["reason"] == "RequestEntityTooLarge");
    CHECK(status["code"] == 413);
    CHECK(calls == 1);
  }
}

TEST_CASE("keep-alive reuses one connection; Connection: close ends it") {
  auto server = start_server(tls_options(), echo);
  hc::CurlClient client;
  auto first = client.request(https_url(*server, "/a"), as_admin());
  REQUIRE_MESSAGE(first.code == CURLE_OK, first.error);
  CHECK(first.new_connections == 1);
  auto second = client.request(https_url(*server, "/b"), as_admin());
  REQUIRE_MESSAGE(second.code == CURLE_OK, second.error);
  CHECK(second.new_connections == 0);
  CHECK(body_json(second)["path"] == "/b");

  auto closing = as_admin();
  closing.headers = {"Connection: close"};
  auto third = client.request(https_url(*server, "/c"), closing);
  REQUIRE_MESSAGE(third.code == CURLE_OK, third.error);
  CHECK(third.new_connections == 0);
  auto fourth = client.request(https_url(*server, "/d"), as_admin());
  REQUIRE_MESSAGE(fourth.code == CURLE_OK, fourth.error);
  CHECK(fourth.new_connections == 1);
}

TEST_CASE("plain HTTP is served on loopback only") {
  auto server = start_server(plain_options(), echo);
  auto r = fetch(http_url(*server, "/plain?x=1"));
  REQUIRE_MESSAGE(r.code == CURLE_OK, r.error);
  CHECK(body_json(r)["path"] == "/plain");
  CHECK(body_json(r)["has_client_cert"] == false);

  auto localhost = plain_options();
  localhost.address = "localhost";
  CHECK(HttpServer::start(localhost, echo));

  auto v6 = plain_options();
  v6.address = "::1";
  if (auto v6_server = HttpServer::start(v6, echo); !v6_server) {
    MESSAGE("no IPv6 loopback here: ", v6_server.error().message);
  } else {
    auto r6 = fetch(fmt::format("http://[::1]:{}/six", (*v6_server)->port()));
    REQUIRE_MESSAGE(r6.code == CURLE_OK, r6.error);
    CHECK(body_json(r6)["remote"].get<std::string>().rfind("[::1]:", 0) == 0);
  }

  for (const char* address : {"0.0.0.0", "::", "10.1.2.3"}) {
    auto options = plain_options();
    options.address = address;
    auto refused = HttpServer::start(options, echo);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::InvalidArgument);
    CHECK(refused.error().message.find("loopback") != std::string::npos);
  }
  auto garbage = plain_options();
  garbage.address = "not-an-address";
  CHECK_FALSE(HttpServer::start(garbage, echo));
}

TEST_CASE("start fails clearly for missing certificate files and busy ports") {
  auto options = tls_options();
  options.tls->cert_file = "/nonexistent/server.crt";
  auto missing = HttpServer::start(options, echo);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("/nonexistent/server.crt") != std::string::npos);

  auto first = start_server(plain_options(), echo);
  auto same_port = plain_options();
  same_port.port = first->port();
  auto busy = HttpServer::start(same_port, echo);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().message.find("bind") != std::string::npos);
}

TEST_CASE("HEAD gets the headers of the response without its body") {
  auto server = start_server(plain_options(), [](const Request&, Responder& r) {
    r.send(Response{200, {{"Content-Type", "text/plain"}}, "twelve bytes"});
  });
  auto head = fetch(http_url(*server, "/"), [] {
    ClientRequest r;
    r.method = "HEAD";
    return r;
  }());
  REQUIRE_MESSAGE(head.code == CURLE_OK, head.error);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(std::find(head.headers.begin(), head.headers.end(), "Content-Length: 12") != head.headers.end());
}

TEST_CASE("streaming: each write reaches the client at once; a departed client shows in client_gone()") {
  std::atomic<int> chunks_seen{0};
  std::atomic<bool> each_chunk_arrived{false};
  std::atomic<bool> saw_gone{false};
  auto server = start_server(tls_options(), [&](const Request&, Responder& r) {
    auto& stream = r.stream(200, {{"Content-Type", "application/json"}});
    bool arrived = true;
    for (int i = 0; i < 3 && arrived; ++i) {
      stream.write(fmt::format("{{\"event\":{}}}\n", i));
      // Not the next chunk before the client has this one: proves no buffering.
      arrived = wait_until([&] { return chunks_seen > i; }, 5s);
    }
    each_chunk_arrived = arrived;
    saw_gone = wait_until([&] { return stream.client_gone(); }, 10s);
  });
  auto client = as_admin();
  client.on_data = [&](std::string_view piece) {
    chunks_seen += static_cast<int>(std::count(piece.begin(), piece.end(), '\n'));
    return chunks_seen < 3;  // then hang up
  };
  auto r = fetch(https_url(*server, "/api/v1/pods?watch=1"), client);
  CHECK(r.code == CURLE_WRITE_ERROR);
  CHECK(r.status == 200);
  CHECK(chunks_seen == 3);
  CHECK(eventually([&] { return saw_gone.load(); }, 10s));
  CHECK(each_chunk_arrived);
}

TEST_CASE("streaming: write() turns false once the client is gone; a finished stream ends the body") {
  std::atomic<bool> write_failed{false};
  auto server = start_server(tls_options(), [&](const Request& req, Responder& r) {
    auto& stream = r.stream(200, {{"Content-Type", "text/plain"}});
    if (req.path == "/finite") {
      stream.write("one\n");
      stream.write("");  // must not end the body early
      stream.write("two\n");
      return;
    }
    write_failed = wait_until([&] { return !stream.write("tick\n"); }, 10s);
  });
  auto finite = fetch(https_url(*server, "/finite"), as_admin());
  REQUIRE_MESSAGE(finite.code == CURLE_OK, finite.error);
  CHECK(finite.body == "one\ntwo\n");
  CHECK(std::find(finite.headers.begin(), finite.headers.end(), "Transfer-Encoding: chunked") !=
        finite.headers.end());

  auto client = as_admin();
  client.on_data = [](std::string_view) { return false; };
  auto r = fetch(https_url(*server, "/forever"), client);
  CHECK(r.code == CURLE_WRITE_ERROR);
  CHECK(eventually([&] { return write_failed.load(); }, 10s));
}

TEST_CASE("a handler that throws gets 500, one that answers nothing too, and the server keeps serving") {
  auto server = start_server(tls_options(), [](const Request& req, Responder& r) {
    if (req.path == "/throw") throw std::runtime_error("boom");
    if (req.path == "/silent") return;
    echo(req, r);
  });
  hc::CurlClient client;
  for (const char* path : {"/throw", "/silent"}) {
    auto failed = client.request(https_url(*server, path), as_admin());
    REQUIRE_MESSAGE(failed.code == CURLE_OK, failed.error);
    CHECK(failed.status == 500);
    CHECK(body_json(failed)["reason"] == "InternalError");
  }
  auto ok = client.request(https_url(*server, "/fine"), as_admin());
  REQUIRE_MESSAGE(ok.code == CURLE_OK, ok.error);
  CHECK(ok.status == 200);
}

TEST_CASE("malformed HTTP gets 400 and the connection closes") {
  std::atomic<int> calls{0};
  auto server = start_server(plain_options(), [&](const Request& req, Responder& r) {
    ++calls;
    echo(req, r);
  });
  for (const char* bad :
       {"NOT HTTP AT ALL\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET http://other/x HTTP/1.1\r\nHost: a\r\n\r\n", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    CAPTURE(bad);
    auto fd = hc::connect_loopback(server->port());
    REQUIRE(fd);
    REQUIRE(hc::send_text(fd.get(), bad));
    std::string answer = hc::read_until_closed(fd.get(), 5s);
    CHECK(answer.rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(answer.find("\"reason\":\"BadRequest\"") != std::string::npos);
  }
  CHECK(calls == 0);
}

TEST_CASE("idle keep-alive connections close after idle_timeout") {
  auto options = plain_options();
  options.idle_timeout = 1s;
  auto server = start_server(options, echo);
  auto idle = hc::connect_loopback(server->port());
  REQUIRE(idle);
  auto used = hc::connect_loopback(server->port());
  REQUIRE(used);
  REQUIRE(hc::send_text(used.get(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto started = std::chrono::steady_clock::now();
  CHECK(hc::closed_by_peer(idle.get(), 5s));
  CHECK(hc::closed_by_peer(used.get(), 5s));
  CHECK(std::chrono::steady_clock::now() - started >= 900ms);
}

TEST_CASE("connections over max_connections are refused") {
  auto options = plain_options();
  options.max_connections = 2;
  auto server = start_server(options, echo);
  std::vector<UniqueFd> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(hc::connect_loopback(server->port()));
    REQUIRE(held.back());
    // One whole request each, so that the server has surely accepted them.
    REQUIRE(hc::send_text(held.back().get(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    char buf[512];
    REQUIRE(::recv(held.back().get(), buf, sizeof buf, 0) > 0);
  }
  auto extra = hc::connect_loopback(server->port());
  REQUIRE(extra);
  std::string answer = hc::read_until_closed(extra.get(), 5s);
  CHECK(answer.rfind("HTTP/1.1 503 ", 0) == 0);

  held.clear();  // below the limit again, once the server has seen them go
  CHECK(eventually([&] { return fetch(http_url(*server, "/again")).status == 200; }, 5s));
}

TEST_CASE("stop() ends idle, handshaking and streaming connections and joins promptly") {
  constexpr int kIdle = 50, kStreaming = 50;
  std::atomic<int> streaming{0};
  std::atomic<int> streams_ended{0};
  std::atomic<int> writes_refused{0};
  auto handler = [&](const Request&, Responder& r) {
    auto& stream = r.stream(200, {});
    stream.write("started\n");
    ++streaming;
    while (!stream.client_gone()) ::poll(nullptr, 0, 5);
    if (!stream.write("after stop\n")) ++writes_refused;
    ++streams_ended;
  };
  auto server = start_server(plain_options(), handler);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kIdle + kStreaming; ++i) {
    clients.push_back(hc::connect_loopback(server->port()));
    REQUIRE(clients.back());
    if (i >= kIdle) REQUIRE(hc::send_text(clients.back().get(), "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  REQUIRE(eventually([&] { return streaming == kStreaming; }, 10s));

  auto before = std::chrono::steady_clock::now();
  server->stop();
  auto took = std::chrono::steady_clock::now() - before;
  CHECK(took < 3s);
  CHECK(streams_ended == kStreaming);
  CHECK(writes_refused == kStreaming);
  for (auto& fd : clients) CHECK(hc::closed_by_peer(fd.get(), 2s));
  server->stop();  // again: nothing left to do

  // TLS: a connection that never handshakes, and a curl watch.
  std::atomic<int> tls_streaming{0};
  auto tls_server = start_server(tls_options(), [&](const Request&, Responder& r) {
    auto& stream = r.stream(200, {});
    stream.write("started\n");
    ++tls_streaming;
    while (stream.write("tick\n")) ::poll(nullptr, 0, 5);
  });
  auto silent = hc::connect_loopback(tls_server->port());
  REQUIRE(silent);
  hc::ClientResponse watch;
  std::thread watcher([&] { watch = fetch(https_url(*tls_server, "/watch"), as_admin()); });
  REQUIRE(eventually([&] { return tls_streaming == 1; }, 10s));
  before = std::chrono::steady_clock::now();
  tls_server.reset();  // the destructor stops too
  CHECK(std::chrono::steady_clock::now() - before < 3s);
  watcher.join();
  CHECK(watch.code != CURLE_OK);  // the chunked body was cut off
  CHECK(watch.body.rfind("started\n", 0) == 0);
  CHECK(hc::closed_by_peer(silent.get(), 2s));
}

TEST_CASE("servers start and stop many times") {
  for (int i = 0; i < 30; ++i) {
    auto server = start_server(i % 2 == 0 ? plain_options() : tls_options(), echo);
    if (i % 10 == 0) {
      auto r = fetch((i % 2 == 0 ? http_url(*server, "/") : https_url(*server, "/")), as_admin());
      CHECK(r.status == 200);
    }
  }
}
