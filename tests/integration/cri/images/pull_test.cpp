// Registry pulls against Debian's docker-registry on 127.0.0.1: anonymous,
// Basic (htpasswd) and Bearer (token issuer in this process) auth, mirrors,
// index platform choice, errors, and concurrent pulls sharing downloads.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/images/image_puller.h"
#include "deckhand/images/image_store.h"
#include "pull_test_support.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::images;
using deckhand::test::TempDir;
using deckhand::test::TestRegistry;

namespace {

// Built once per run: a layout pushed into a registry storage root that
// every test's registry serves (with whatever auth the test configures).
struct World {
  TempDir dir{"deckhand-pull"};
  test::TestLayout layout;
  std::string storage;
  std::string error;  // set when setup failed
};

Status set_up(World& w) {
  DH_TRY(layout, test::build_test_layout(w.dir.path(), 2 << 20));
  w.layout = layout;
  w.storage = w.dir.sub("storage");
  DH_TRY(reg, TestRegistry::start(w.dir.path(), w.storage));
  DH_CHECK(test::push_image("oci:" + layout.dir + ":v1", reg.host() + "/test/busybox:v1", false));
  DH_CHECK(test::push_image("oci:" + layout.dir + ":v1", reg.host() + "/library/busybox:latest", false));
  DH_CHECK(test::push_image("oci:" + layout.dir + ":multi", reg.host() + "/test/multi:v1", true));
  // The busybox fixture of tests/fixtures, when built: a real, runnable image.
  std::string fixture = test::build_path("tests/fixtures/busybox-2layer-oci.tar");
  if (fs::exists(fixture))
    DH_CHECK(test::push_image("oci-archive:" + fixture, reg.host() + "/test/busybox:2layer", false));
  return {};
}

World& world() {
  static std::unique_ptr<World> w = [] {
    auto made = std::make_unique<World>();
    auto st = set_up(*made);
    if (!st) made->error = st.error().message;
    return made;
  }();
  REQUIRE_MESSAGE(w->error.empty(), w->error);
  return *w;
}

// A fresh image store with a puller over it.
struct Node {
  TempDir root{"deckhand-pull-store"};
  std::unique_ptr<ImageStore> store;
  std::unique_ptr<ImagePuller> puller;

  explicit Node(RegistryConfig cfg = {}) {
    auto s = ImageStore::open(root.path());
    REQUIRE_MESSAGE(s.has_value(), (s ? "" : s.error().message));
    store = std::move(*s);
    puller = ImagePuller::create(*store, std::move(cfg));
  }
};

TestRegistry start_registry(const std::string& auth_yaml = "") {
  auto& w = world();
  auto r = TestRegistry::start(w.dir.path(), w.storage, auth_yaml);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return std::move(*r);
}

void check_pulled(Node& n, const Image& img, const std::string& ref) {
  auto& w = world();
  CHECK(std::find(img.repo_tags.begin(), img.repo_tags.end(), ref) != img.repo_tags.end());
  CHECK(n.store->content().has(w.layout.layer_digest));
  auto got = n.store->get(ref);
  REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
  CHECK(got->id == img.id);
}

std::string message_of(const Result<Image>& r) { return r ? "succeeded" : r.error().message; }

}  // namespace

TEST_CASE("pull anonymously from a loopback registry over plain HTTP") {
  auto reg = start_registry();
  Node n;
  std::string ref = reg.host() + "/test/busybox:v1";
  auto img = n.puller->pull(ref, {});
  REQUIRE_MESSAGE(img.has_value(), message_of(img));
  check_pulled(n, *img, ref);
  CHECK(img->id == world().layout.amd64_config);
  CHECK(img->manifest_digest == world().layout.amd64_manifest);
  CHECK(n.puller->stats().blob_downloads == 2);  // config and layer

  SUBCASE("a second pull fetches no blob again") {
    auto again = n.puller->pull(ref, {});
    REQUIRE_MESSAGE(again.has_value(), message_of(again));
    CHECK(n.puller->stats().blob_downloads == 2);
  }
  SUBCASE("by digest") {
    std::string by_digest = reg.host() + "/test/busybox@" + world().layout.amd64_manifest;
    auto d = n.puller->pull(by_digest, {});
    REQUIRE_MESSAGE(d.has_value(), message_of(d));
    CHECK(d->id == img->id);
  }
}

TEST_CASE("an index resolves to its linux/amd64 manifest") {
  auto reg = start_registry();
  Node n;
  auto img = n.puller->pull(reg.host() + "/test/multi:v1", {});
  REQUIRE_MESSAGE(img.has_value(), message_of(img));
  CHECK(img->manifest_digest == world().layout.multi_amd64_manifest);
  CHECK(n.store->content().has(world().layout.multi_index));
}

TEST_CASE("unknown images and unreachable registries fail clearly") {
  auto reg = start_registry();
  Node n;
  SUBCASE("unknown tag") {
    auto r = n.puller->pull(reg.host() + "/test/busybox:nope", {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::NotFound);
    CHECK(r.error().message.find(reg.host() + "/test/busybox:nope") != std::string::npos);
    CHECK(r.error().message.find("MANIFEST_UNKNOWN") != std::string::npos);
  }
  SUBCASE("unknown repository") {
    auto r = n.puller->pull(reg.host() + "/test/nothing:v1", {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::NotFound);
  }
  SUBCASE("nothing listening") {
    auto port = test::free_port();
    REQUIRE(port.has_value());
    std::string host = "127.0.0.1:" + std::to_string(*port);
    auto r = n.puller->pull(host + "/test/busybox:v1", {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::Unavailable);
    CHECK(r.error().message.find(host) != std::string::npos);
  }
}

TEST_CASE("Basic auth with htpasswd") {
  auto& w = world();
  auto hash = run_process(RunOptions{{"htpasswd", "-Bbn", "puller", "s3cret"}});
  REQUIRE(hash.has_value());
  REQUIRE(hash->exit_code == 0);
  std::string htpasswd = w.dir.sub("htpasswd");
  REQUIRE(fs::write_file_atomic(htpasswd, hash->out).has_value());
  auto reg = start_registry("auth:\n  htpasswd:\n    realm: deckhand-test\n    path: " + htpasswd);
  std::string ref = reg.host() + "/test/busybox:v1";

  SUBCASE("without credentials") {
    Node n;
    auto r = n.puller->pull(ref, {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::PermissionDenied);
    CHECK(r.error().message.find(ref) != std::string::npos);
    CHECK(r.error().message.find("credentials") != std::string::npos);
  }
  SUBCASE("wrong password") {
    Node n;
    PullAuth a;
    a.username = "puller";
    a.password = "wrong";
    auto r = n.puller->pull(ref, a);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::PermissionDenied);
  }
  SUBCASE("username and password") {
    Node n;
    PullAuth a;
    a.username = "puller";
    a.password = "s3cret";
    auto r = n.puller->pull(ref, a);
    REQUIRE_MESSAGE(r.has_value(), message_of(r));
    check_pulled(n, *r, ref);
  }
  SUBCASE("auth field") {
    Node n;
    PullAuth a;
    a.auth = "cHVsbGVyOnMzY3JldA==";  // puller:s3cret
    auto r = n.puller->pull(ref, a);
    REQUIRE_MESSAGE(r.has_value(), message_of(r));
  }
  SUBCASE("credentials from the registry config") {
    RegistryConfig cfg;
    cfg.hosts[reg.host()].username = "puller";
    cfg.hosts[reg.host()].password = "s3cret";
    Node n(cfg);
    auto r = n.puller->pull(ref, {});
    REQUIRE_MESSAGE(r.has_value(), message_of(r));
  }
}

TEST_CASE("Bearer auth with a token issuer") {
  auto& w = world();
  TempDir issuer_dir{"deckhand-pull-issuer"};
  auto issuer = test::TokenIssuer::start(issuer_dir.path(), "tokenuser", "tokenpass");
  REQUIRE_MESSAGE(issuer.has_value(), (issuer ? "" : issuer.error().message));
  auto& iss = **issuer;
  auto reg = start_registry(fmt::format("auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n"
                                        "    rootcertbundle: {}",
                                        iss.realm(), test::TokenIssuer::kService, test::TokenIssuer::kIssuer,
                                        iss.cert_path()));
  (void)w;
  std::string ref = reg.host() + "/test/busybox:v1";

  SUBCASE("without credentials the issuer refuses") {
    Node n;
    auto r = n.puller->pull(ref, {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::PermissionDenied);
    CHECK(r.error().message.find(iss.realm()) != std::string::npos);
  }
  SUBCASE("with credentials, and the token is reused") {
    Node n;
    PullAuth a;
    a.username = "tokenuser";
    a.password = "tokenpass";
    auto r = n.puller->pull(ref, a);
    REQUIRE_MESSAGE(r.has_value(), (message_of(r) + "\nregistry log:\n" + reg.log()));
    check_pulled(n, *r, ref);
    int tokens = iss.requests();
    CHECK(tokens == 1);
    auto again = n.puller->pull(ref, a);
    REQUIRE_MESSAGE(again.has_value(), message_of(again));
    CHECK(iss.requests() == tokens);
    // A cached token serves only the credentials that obtained it.
    a.password = "wrong";
    auto wrong = n.puller->pull(ref, a);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().kind == ErrorKind::PermissionDenied);
  }
  SUBCASE("a registry token is sent as is") {
    Node n;
    PullAuth a;
    a.registry_token = "not-a-valid-token";
    auto r = n.puller->pull(ref, a);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::PermissionDenied);
    CHECK(iss.requests() == 0);
  }
}

TEST_CASE("docker.io served by a local mirror") {
  auto reg = start_registry();
  auto dead = test::free_port();
  REQUIRE(dead.has_value());
  RegistryConfig cfg;
  // The first mirror is down: the pull moves on to the next, never to docker.io.
  cfg.hosts["docker.io"].mirrors = {fmt::format("http://127.0.0.1:{}", *dead), "http://" + reg.host()};
  Node n(cfg);
  auto img = n.puller->pull("busybox", {});
  REQUIRE_MESSAGE(img.has_value(), message_of(img));
  check_pulled(n, *img, "docker.io/library/busybox:latest");
}

TEST_CASE("concurrent pulls download each blob once") {
  auto reg = start_registry();
  Node n;
  auto& layout = world().layout;
  std::vector<std::string> refs = {reg.host() + "/test/busybox:v1", reg.host() + "/test/multi:v1"};
  constexpr int kPerImage = 4;
  std::vector<Result<Image>> results(refs.size() * kPerImage);
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < results.size(); ++i)
      threads.emplace_back([&, i] { results[i] = n.puller->pull(refs[i % refs.size()], {}); });
  }
  for (auto& r : results) REQUIRE_MESSAGE(r.has_value(), message_of(r));
  // Two configs and the one layer both images share.
  CHECK(n.puller->stats().blob_downloads == 3);
  CHECK(reg.gets_logged("/v2/test/busybox/blobs/" + layout.layer_digest) +
            reg.gets_logged("/v2/test/multi/blobs/" + layout.layer_digest) ==
        1);
  CHECK(reg.gets_logged("/v2/test/busybox/blobs/" + layout.amd64_config) == 1);
}

TEST_CASE("the busybox fixture is pulled and unpacked") {
  if (!fs::exists(test::build_path("tests/fixtures/busybox-2layer-oci.tar"))) {
    MESSAGE("skipped: tests/fixtures/busybox-2layer-oci.tar is not built");
    return;
  }
  auto reg = start_registry();
  Node n;
  std::string ref = reg.host() + "/test/busybox:2layer";
  auto img = n.puller->pull(ref, {});
  REQUIRE_MESSAGE(img.has_value(), message_of(img));
  REQUIRE(img->layer_dirs.size() == 2);
  CHECK(fs::exists(img->layer_dirs[0] + "/bin/busybox"));
  CHECK(fs::exists(img->layer_dirs[1] + "/etc/motd"));
  CHECK_FALSE(img->config.env.empty());
}
