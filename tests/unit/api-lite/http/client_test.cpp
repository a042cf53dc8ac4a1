// deckhand::http::HttpClient against our own server (TLS with client
// certificates, keep-alive, streams) and against raw sockets for what our
// server would never do (close idle connections silently, stall, trickle).
#include "deckhand/http/client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "deckhand/common/json.h"
#include "deckhand/http/server.h"
#include "test_client.h"
#include "test_pki.h"

using namespace deckhand;
using namespace deckhand::http;
using namespace std::chrono_literals;
using deckhand::http::test::test_pki;

namespace {

std::unique_ptr<HttpServer> start_server(bool tls, Handler handler, const std::string& address = "127.0.0.1") {
  ServerOptions options;
  options.address = address;
  options.port = 0;
  if (tls) options.tls = test_pki().tls(true);
  auto server = HttpServer::start(std::move(options), std::move(handler));
  REQUIRE_MESSAGE(server, (server ? "" : server.error().message));
  return std::move(*server);
}

// Who asked, how, and on which connection (the peer's port).
void describe(const Request& req, Responder& r) {
  Json j = {{"method", req.method}, {"target", req.target}, {"body", req.body},
            {"user", req.peer.user}, {"groups", req.peer.groups}, {"from", req.remote_address},
            {"host", req.header("host").value_or("")}, {"agent", req.header("user-agent").value_or("")},
            {"x", req.header("x-test").value_or("")}};
  r.send(Response{200, {{"Content-Type", "application/json"}, {"X-Reply", "yes"}}, j.dump()});
}

std::unique_ptr<HttpClient> client_for(const std::string& url, ClientOptions options = {}) {
  auto server = parse_server_url(url);
  REQUIRE_MESSAGE(server, (server ? "" : server.error().message));
  auto client = HttpClient::create(*server, std::move(options));
  REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
  return std::move(*client);
}

ClientOptions admin_options() {
  ClientOptions o;
  o.ca_pem = test_pki().ca.cert_pem;
  o.cert_pem = test_pki().admin.cert_pem;
  o.key_pem = test_pki().admin.key_pem;
  return o;
}

Json body_json(const Result<ClientResponse>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  auto j = parse_json(r->body, "body");
  REQUIRE(j);
  return *j;
}

// A listening socket on 127.0.0.1 for hand-written servers.
struct RawListener {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  uint16_t port = 0;
  RawListener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd.get(), 8) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  UniqueFd accept() { return UniqueFd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Reads one request head (up to the blank line).
std::string read_head(int fd) {
  std::string got;
  char c;
  while (got.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) got += c;
  return got;
}

}  // namespace

TEST_CASE("URLs split into the server and the target") {
  auto s = split_url("https://[::1]:6443/api/v1/pods?watch=1");
  REQUIRE(s);
  CHECK(s->first.tls);
  CHECK(s->first.host == "::1");
  CHECK(s->first.port == 6443);
  CHECK(s->second == "/api/v1/pods?watch=1");
  CHECK(s->first.url() == "https://[::1]:6443");
  auto plain = split_url("http://node-a");
  REQUIRE(plain);
  CHECK(plain->first.port == 80);
  CHECK(plain->second == "/");
  CHECK(parse_server_url("https://127.0.0.1:6443/")->port == 6443);
  CHECK(parse_server_url("https://127.0.0.1:6443/api").error().message.find("has a path") != std::string::npos);
  CHECK(split_url("ftp://x").error().message == "URL \"ftp://x\" is not http:// or https://");
  CHECK(split_url("http://x:99999/").error().message.find("bad port \"99999\"") != std::string::npos);
  CHECK_FALSE(split_url("http://:80/"));
  CHECK_FALSE(split_url("http://[::1/"));
}

TEST_CASE("HTTPS with a client certificate: the server sees who we are, and calls reuse the connection") {
  auto server = start_server(true, describe);
  auto client = client_for("https://localhost:" + std::to_string(server->port()), admin_options());
  ClientRequest req;
  req.method = "POST";
  req.target = "/api/v1/namespaces?x=1";
  req.headers = {{"Content-Type", "application/json"}, {"X-Test", "abc"}};
  req.body = "{\"a\":1}";
  auto first = client->send(req);
  auto j = body_json(first);
  CHECK(first->status == 200);
  CHECK(first->header("x-reply") == "yes");
  CHECK(j["method"] == "POST");
  CHECK(j["target"] == "/api/v1/namespaces?x=1");
  CHECK(j["body"] == "{\"a\":1}");
  CHECK(j["user"] == "admin");
  CHECK(j["x"] == "abc");
  CHECK(j["agent"] == "deckhand-client");
  CHECK(j["host"] == "localhost:" + std::to_string(server->port()));
  auto second = body_json(client->send(ClientRequest{}));
  CHECK(second["from"] == j["from"]);  // the same connection
}

TEST_CASE("the server's certificate must come from the trusted CA and name the host") {
  auto server = start_server(true, describe);
  auto port = std::to_string(server->port());
  auto stranger = make_ca("stranger");
  REQUIRE(stranger);
  ClientOptions wrong_ca;
  wrong_ca.ca_pem = stranger->cert_pem;
  auto refused = client_for("https://localhost:" + port, wrong_ca)->send({});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::Unavailable);
  CHECK_MESSAGE(refused.error().message.find("TLS handshake") != std::string::npos, refused.error().message);
  CHECK_MESSAGE(refused.error().message.find("(server certificate: ") != std::string::npos, refused.error().message);
  ClientOptions right_ca;
  right_ca.ca_pem = test_pki().ca.cert_pem;
  CHECK(client_for("https://127.0.0.1:" + port, right_ca)->send({}));
  // 127.0.0.2 is loopback too, but not a name on the serving certificate.
  server = start_server(true, describe, "127.0.0.2");
  port = std::to_string(server->port());
  auto other_name = client_for("https://127.0.0.2:" + port, right_ca)->send({});
  REQUIRE_FALSE(other_name);
  CHECK_MESSAGE(other_name.error().message.find("IP address mismatch") != std::string::npos, other_name.error().message);
  ClientOptions unchecked;
  unchecked.verify_server = false;
  auto anyway = client_for("https://127.0.0.2:" + port, unchecked)->send({});
  CHECK(body_json(anyway)["user"] == "");  // no certificate: anonymous
}

TEST_CASE("bad client credentials are refused when the client is made") {
  auto server = parse_server_url("https://127.0.0.1:1");
  REQUIRE(server);
  ClientOptions half = admin_options();
  half.key_pem.clear();
  CHECK(HttpClient::create(*server, half).error().message ==
        "a client certificate needs its key and a key its certificate");
  ClientOptions junk = admin_options();
  junk.ca_pem = "not a certificate";
  CHECK(HttpClient::create(*server, junk).error().message == "CA certificate: no PEM certificate in it");
  ClientOptions mismatched = admin_options();
  mismatched.key_pem = test_pki().server.key_pem;
  auto m = HttpClient::create(*server, mismatched);
  REQUIRE_FALSE(m);
  CHECK(m.error().message.find("use the client key") == 0);
}

TEST_CASE("connection failures name the address and what went wrong") {
  RawListener closed;
  std::string url = closed.url();
  closed.fd.reset();  // nothing listens there any more
  auto refused = client_for(url)->send({});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::Unavailable);
  CHECK(refused.error().message == "connect to 127.0.0.1:" + std::to_string(closed.port) + ": Connection refused");
  auto unknown = client_for("http://no-such-host.invalid:80")->send({});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("resolve no-such-host.invalid: ") == 0);
}

TEST_CASE("a server that never answers: the call ends at request_timeout, or at once on cancel") {
  RawListener silent;
  ClientOptions o;
  o.request_timeout = 200ms;
  auto client = client_for(silent.url(), o);
  auto t0 = std::chrono::steady_clock::now();
  auto r = client->send({});
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::DeadlineExceeded);
  CHECK(r.error().message == "wait for the response: timed out after 200 ms");
  CHECK(took >= 190ms);
  CHECK(took < 5s);

  o.request_timeout = 60s;
  auto patient = client_for(silent.url(), o);
  CancelSignal cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);  // the call is under way by then, or starts cancelled: both end it
    cancel.raise();
  });
  ClientRequest req;
  req.cancel_fd = cancel.fd();
  auto cancelled = patient->send(req);
  canceller.join();
  REQUIRE_FALSE(cancelled);
  CHECK(cancelled.error().message.ends_with("cancelled"));
  CHECK(cancel.raised());
}

TEST_CASE("a kept-alive connection the server closes instead of answering is replaced without the caller noticing") {
  RawListener raw;
  std::atomic<int> connections{0};
  auto reply = [](int fd) {
    std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    (void)::send(fd, ok.data(), ok.size(), MSG_NOSIGNAL);
  };
  std::thread server([&] {
    // The first connection answers once, then takes the next request and
    // closes without a word (an idle timeout racing the request).
    UniqueFd first = raw.accept();
    ++connections;
    read_head(first.get());
    reply(first.get());
    read_head(first.get());
    first.reset();
    UniqueFd second = raw.accept();
    ++connections;
    read_head(second.get());
    reply(second.get());
  });
  auto client = client_for(raw.url());
  auto one = client->send({});
  REQUIRE(one);
  CHECK(one->body == "ok");
  auto two = client->send({});
  server.join();
  REQUIRE_MESSAGE(two, (two ? "" : two.error().message));
  CHECK(two->body == "ok");
  CHECK(connections == 2);
}

TEST_CASE("chunked and close-delimited bodies are read whole; bodies above the limit are refused") {
  RawListener raw;
  auto send_text = [](int fd, const std::string& text) { (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL); };
  std::thread server([&] {
    UniqueFd kept = raw.accept();
    read_head(kept.get());
    send_text(kept.get(), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    read_head(kept.get());  // the next call comes on the same connection
    send_text(kept.get(), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    kept.reset();
    UniqueFd fresh = raw.accept();
    read_head(fresh.get());
    send_text(fresh.get(), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  });
  auto client = client_for(raw.url());
  CHECK(client->send({})->body == "abcde");
  CHECK(client->send({})->body == "until the end");
  auto big = client->send({}, 10);
  server.join();
  REQUIRE_FALSE_MESSAGE(big, (big ? big->body : ""));
  CHECK(big.error().message == "read the response: its body is larger than 10 bytes");
}

TEST_CASE("a streamed response is read as it arrives, and ends with the server's end or the stream's deadline") {
  std::atomic<bool> release{false};
  auto server = start_server(true, [&](const Request& req, Responder& r) {
    auto& s = r.stream(200, {{"Content-Type", "application/json"}});
    s.write("{\"n\":1}\n");
    if (req.target == "/short") return;
    while (!release && !s.client_gone()) std::this_thread::sleep_for(10ms);
    s.write("{\"n\":2}\n");
  });
  auto client = client_for("https://localhost:" + std::to_string(server->port()), admin_options());
  ClientRequest req;
  req.target = "/short";
  auto stream = client->open(req, 0ms);
  REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().message));
  CHECK((*stream)->status() == 200);
  std::string got;
  for (int i = 0; i < 100; ++i) {
    auto more = (*stream)->read_some(got, 100ms);
    REQUIRE_MESSAGE(more, (more ? "" : more.error().message));
    if (!*more) break;
  }
  CHECK(got == "{\"n\":1}\n");

  req.target = "/long";
  auto waiting = client->open(req, 0ms);
  REQUIRE(waiting);
  std::string first;
  while (first.empty()) REQUIRE((*waiting)->read_some(first, 1s));
  CHECK(first == "{\"n\":1}\n");
  std::string nothing;
  CHECK((*waiting)->read_some(nothing, 50ms) == true);  // the wait ended, the stream goes on
  CHECK(nothing.empty());
  release = true;
  std::string second;
  while (second.empty()) REQUIRE((*waiting)->read_some(second, 1s));
  CHECK(second == "{\"n\":2}\n");

  release = false;
  auto bounded = client->open(req, 300ms);
  REQUIRE(bounded);
  std::string all;
  Result<bool> more = true;
  while (more && *more) more = (*bounded)->read_some(all, 1s);
  REQUIRE_FALSE(more);
  CHECK(more.error().kind == ErrorKind::DeadlineExceeded);
  CHECK(all == "{\"n\":1}\n");
  release = true;
}

TEST_CASE("a non-2xx answer to a stream is a response like any other") {
  auto server = start_server(false, [](const Request&, Responder& r) { r.send(Response{403, {}, "{\"reason\":\"Forbidden\"}"}); });
  auto client = client_for("http://127.0.0.1:" + std::to_string(server->port()));
  auto stream = client->open({}, 0ms);
  REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().message));
  CHECK((*stream)->status() == 403);
  std::string body;
  while (*(*stream)->read_some(body, 1s)) {
  }
  CHECK(body == "{\"reason\":\"Forbidden\"}");
}
