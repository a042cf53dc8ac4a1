#include "pull_test_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstring>
#include <random>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

namespace deckhand::test {

namespace {

using Clock = std::chrono::steady_clock;

Result<int> bound_socket(int& port_out) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_fail("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    auto err = sys_fail("bind 127.0.0.1:0");
    ::close(fd);
    return err;
  }
  port_out = ntohs(a.sin_port);
  return fd;
}

bool can_connect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

Result<std::string> run(const std::vector<std::string>& argv) {
  DH_TRY(out, run_process(RunOptions{argv, std::nullopt, "", std::chrono::seconds(60), ""}));
  if (out.exit_code != 0)
    return fail(ErrorKind::Internal, "{} exited {}: {}", argv[0], out.exit_code, out.err);
  return out.out;
}

Result<std::string> write_blob(const std::string& layout, std::string_view data) {
  std::string digest = sha256_digest(data);
  DH_CHECK(fs::write_file_atomic(layout + "/blobs/sha256/" + digest.substr(7), data));
  return digest;
}

Json descriptor(const std::string& media, const std::string& digest, size_t size) {
  return Json{{"mediaType", media}, {"digest", digest}, {"size", size}};
}

// A gzipped tar with /hello and /random.bin; returns {blob digest, diff id}.
Result<std::pair<std::string, std::string>> build_layer(const std::string& dir, const std::string& layout,
                                                        size_t random_bytes) {
  std::string staging = dir + "/layer-root";
  DH_CHECK(fs::make_dirs(staging));
  DH_CHECK(fs::write_file_atomic(staging + "/hello", "hello from the registry\n"));
  std::string noise(random_bytes, '\0');
  std::mt19937_64 rng(std::random_device{}());
  for (auto& c : noise) c = static_cast<char>(rng());
  DH_CHECK(fs::write_file_atomic(staging + "/random.bin", noise));
  std::string tar = dir + "/layer.tar";
  DH_CHECK(run({"tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", staging, "-cf", tar, "."}));
  DH_TRY(diff_id, sha256_file(tar));
  DH_TRY(gz, run({"gzip", "-n", "-c", tar}));
  DH_TRY(digest, write_blob(layout, gz));
  return std::pair{digest, diff_id};
}

struct Written {
  std::string config, manifest;
  size_t manifest_size = 0;
};

Result<Written> write_image(const std::string& layout, const std::string& arch, const std::string& cmd,
                            const std::string& layer, size_t layer_size, const std::string& diff_id) {
  Json config{{"architecture", arch},
              {"os", "linux"},
              {"config", {{"Cmd", {cmd}}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
  std::string config_text = config.dump();
  DH_TRY(config_digest, write_blob(layout, config_text));
  Json manifest{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config", descriptor("application/vnd.oci.image.config.v1+json", config_digest, config_text.size())},
                {"layers", {descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer, layer_size)}}};
  std::string manifest_text = manifest.dump();
  DH_TRY(manifest_digest, write_blob(layout, manifest_text));
  return Written{config_digest, manifest_digest, manifest_text.size()};
}

std::string b64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string b64url(std::string_view data) {
  std::string s = b64(data);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void respond(int fd, int status, const std::string& body) {
  send_all(fd, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                           "Connection: close\r\n\r\n{}",
                           status, status == 200 ? "OK" : "Unauthorized", body.size(), body));
}

}  // namespace

Result<int> free_port() {
  int port = 0;
  DH_TRY(fd, bound_socket(port));
  ::close(fd);
  return port;
}

Result<TestLayout> build_test_layout(const std::string& dir, size_t random_bytes) {
  TestLayout t;
  t.dir = dir + "/layout";
  DH_CHECK(fs::make_dirs(t.dir + "/blobs/sha256"));
  DH_CHECK(fs::write_file_atomic(t.dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  DH_TRY(layer, build_layer(dir, t.dir, random_bytes));
  t.layer_digest = layer.first;
  DH_TRY(layer_size, fs::read_file(t.dir + "/blobs/sha256/" + layer.first.substr(7)));
  size_t lsize = layer_size.size();
  DH_TRY(v1, write_image(t.dir, "amd64", "/hello", layer.first, lsize, layer.second));
  DH_TRY(arm, write_image(t.dir, "arm64", "/hello-arm", layer.first, lsize, layer.second));
  DH_TRY(amd, write_image(t.dir, "amd64", "/hello-multi", layer.first, lsize, layer.second));
  t.amd64_config = v1.config;
  t.amd64_manifest = v1.manifest;
  t.multi_amd64_manifest = amd.manifest;
  const char* manifest_type = "application/vnd.oci.image.manifest.v1+json";
  const char* index_type = "application/vnd.oci.image.index.v1+json";
  // arm64 first, so that taking the first entry would be wrong.
  Json arm_desc = descriptor(manifest_type, arm.manifest, arm.manifest_size);
  arm_desc["platform"] = {{"os", "linux"}, {"architecture", "arm64"}};
  Json amd_desc = descriptor(manifest_type, amd.manifest, amd.manifest_size);
  amd_desc["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  std::string index_text = Json{{"schemaVersion", 2}, {"mediaType", index_type}, {"manifests", {arm_desc, amd_desc}}}.dump();
  DH_TRY(index_digest, write_blob(t.dir, index_text));
  t.multi_index = index_digest;
  Json v1_desc = descriptor(manifest_type, v1.manifest, v1.manifest_size);
  v1_desc["annotations"] = {{"org.opencontainers.image.ref.name", "v1"}};
  Json multi_desc = descriptor(index_type, index_digest, index_text.size());
  multi_desc["annotations"] = {{"org.opencontainers.image.ref.name", "multi"}};
  Json layout_index{{"schemaVersion", 2}, {"manifests", {v1_desc, multi_desc}}};
  DH_CHECK(fs::write_file_atomic(t.dir + "/index.json", layout_index.dump()));
  return t;
}

Status push_image(const std::string& source, const std::string& dest, bool all_platforms) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false"};
  if (all_platforms) argv.push_back("--all");
  argv.push_back(source);
  argv.push_back("docker://" + dest);
  DH_CHECK(run(argv));
  return {};
}

// ---- TestRegistry ----------------------------------------------------------

Result<TestRegistry> TestRegistry::start(const std::string& work_dir, const std::string& storage_root,
                                         const std::string& auth_yaml) {
  TestRegistry r;
  DH_TRY(port, free_port());
  r.port_ = port;
  std::string config = work_dir + fmt::format("/registry-{}.yml", port);
  r.log_path_ = work_dir + fmt::format("/registry-{}.log", port);
  DH_CHECK(fs::write_file_atomic(config, fmt::format(R"(version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {}
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{}
  secret: deckhand-test-secret
{}
)",
                                                                 storage_root, port, auth_yaml)));
  DH_TRY(log_fd, fs::open_fd(r.log_path_, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  const char* argv[] = {"/usr/bin/docker-registry", "serve", config.c_str(), nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return sys_fail("fork docker-registry");
  if (pid == 0) {
    // Dies with the test, even when the test crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log_fd.get(), 1);
    ::dup2(log_fd.get(), 2);
    ::execv(argv[0], const_cast<char**>(argv));
    ::_exit(127);
  }
  r.child_ = ChildProcess(pid);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!can_connect(port)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      r.child_.release();
      return fail(ErrorKind::Internal, "docker-registry exited early: {}", r.log());
    }
    if (Clock::now() > deadline)
      return fail(ErrorKind::DeadlineExceeded, "docker-registry not listening on {} after 20 s: {}", port, r.log());
    ::poll(nullptr, 0, 20);
  }
  return r;
}

std::string TestRegistry::log() const {
  auto text = fs::read_file(log_path_);
  return text ? *text : std::string();
}

int TestRegistry::gets_logged(const std::string& path) const {
  std::string text = log(), needle = "\"GET " + path + " HTTP/";
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// ---- TokenIssuer -----------------------------------------------------------

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::start(const std::string& dir, std::string user,
                                                        std::string password) {
  std::unique_ptr<TokenIssuer> t(new TokenIssuer);
  t->dir_ = dir;
  t->user_ = std::move(user);
  t->password_ = std::move(password);
  DH_CHECK(run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out",
                dir + "/cert.pem", "-subj", "/CN=deckhand-test-issuer", "-days", "2"}));
  DH_TRY(key, fs::read_file(dir + "/key.pem"));
  t->key_pem_ = key;
  DH_TRY(der, run({"openssl", "x509", "-in", dir + "/cert.pem", "-outform", "DER"}));
  t->cert_der_b64_ = b64(der);
  DH_TRY(fd, bound_socket(t->port_));
  t->listener_.reset(fd);
  if (::listen(fd, 16) != 0) return sys_fail("listen");
  t->thread_ = std::thread([p = t.get()] { p->serve(); });
  return t;
}

TokenIssuer::~TokenIssuer() {
  stop_ = true;
  // Wakes accept() in the server thread.
  ::shutdown(listener_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

std::string TokenIssuer::realm() const { return fmt::format("http://127.0.0.1:{}/token", port_); }

void TokenIssuer::serve() {
  while (!stop_) {
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR) continue;
      return;
    }
    timeval tv{5, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    answer(conn.get());
  }
}

void TokenIssuer::answer(int conn) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  ++requests_;
  std::string lower_req = req;
  for (auto& c : lower_req) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string expected = "authorization: basic " + b64(user_ + ":" + password_);
  for (auto& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower_req.find(expected + "\r\n") == std::string::npos) {
    respond(conn, 401, R"({"details":"bad or missing credentials"})");
    return;
  }
  std::string target = req.substr(req.find(' ') + 1);
  target = target.substr(0, target.find(' '));
  std::string scope;
  auto q = target.find("scope=");
  if (q != std::string::npos) scope = url_decode(target.substr(q + 6, target.find('&', q) - q - 6));
  auto token = sign_token(scope);
  if (!token) {
    respond(conn, 500, Json{{"details", token.error().message}}.dump());
    return;
  }
  respond(conn, 200, Json{{"token", *token}, {"expires_in", 300}}.dump());
}

Result<std::string> TokenIssuer::sign_token(const std::string& scope) {
  // scope = "repository:<name>:<actions>"; names contain no ':' here.
  Json access = Json::array();
  auto first = scope.find(':'), last = scope.rfind(':');
  if (first != std::string::npos && last > first) {
    Json actions = Json::array();
    std::string list = scope.substr(last + 1);
    for (size_t at = 0; at <= list.size();) {
      auto comma = std::min(list.find(',', at), list.size());
      actions.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
    access.push_back({{"type", scope.substr(0, first)}, {"name", scope.substr(first + 1, last - first - 1)},
                      {"actions", actions}});
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Json header{{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
  Json claims{{"iss", kIssuer}, {"sub", user_},       {"aud", kService},     {"exp", now + 300},
              {"nbf", now - 10}, {"iat", now - 10}, {"jti", random_id()}, {"access", access}};
  std::string signing_input = b64url(header.dump()) + "." + b64url(claims.dump());

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key_pem_.data(), static_cast<int>(key_pem_.size())),
                                                 BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                           EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!pkey || !ctx) return fail(ErrorKind::Internal, "load issuer key");
  size_t sig_len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    return fail(ErrorKind::Internal, "sign token");
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    return fail(ErrorKind::Internal, "sign token");
  sig.resize(sig_len);
  return signing_input + "." + b64url(sig);
}

}  // namespace deckhand::test
