#include "manifest.h"

#include <doctest/doctest.h>

#include "archive_import.h"

namespace deckhand::images {

namespace {
const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string desc(const std::string& mt, const std::string& digest, const std::string& extra = "") {
  return R"({"mediaType":")" + mt + R"(","digest":")" + digest + R"(","size":12)" + extra + "}";
}
std::string platform(const std::string& os, const std::string& arch) {
  return R"(,"platform":{"os":")" + os + R"(","architecture":")" + arch + R"("})";
}
}  // namespace

TEST_CASE("OCI manifest") {
  std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                     desc("application/vnd.oci.image.config.v1+json", kA) + R"(,"layers":[)" +
                     desc("application/vnd.oci.image.layer.v1.tar+gzip", kB) + "," +
                     desc("application/vnd.oci.image.layer.v1.tar+zstd", kC) + "]}";
  CHECK(document_kind(text, "m").value() == DocumentKind::Manifest);
  auto m = parse_manifest(text, "m");
  REQUIRE(m);
  CHECK(m->config.digest == kA);
  CHECK(m->config.size == 12);
  REQUIRE(m->layers.size() == 2);
  CHECK(m->layers[0].digest == kB);
  CHECK(m->layers[1].media_type == "application/vnd.oci.image.layer.v1.tar+zstd");
}

TEST_CASE("Docker schema2 manifest and manifest list") {
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":)" + desc("application/vnd.docker.container.image.v1+json", kA) +
                         R"(,"layers":[)" + desc("application/vnd.docker.image.rootfs.diff.tar.gzip", kB) + "]}";
  CHECK(document_kind(manifest, "m").value() == DocumentKind::Manifest);
  auto m = parse_manifest(manifest, "m");
  REQUIRE(m);
  CHECK(m->media_type == "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(m->layers.size() == 1);

  std::string list = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[)" + desc("application/vnd.docker.distribution.manifest.v2+json", kA, platform("linux", "arm64")) +
                     "," + desc("application/vnd.docker.distribution.manifest.v2+json", kB, platform("linux", "amd64")) +
                     "]}";
  CHECK(document_kind(list, "l").value() == DocumentKind::Index);
  auto idx = parse_index(list, "l");
  REQUIRE(idx);
  auto chosen = select_platform(*idx);
  REQUIRE(chosen);
  CHECK(chosen->digest == kB);
}

TEST_CASE("index platform selection") {
  auto index_of = [](const std::string& entries) {
    return parse_index(R"({"schemaVersion":2,"manifests":[)" + entries + "]}", "i").value();
  };
  const std::string mt = "application/vnd.oci.image.manifest.v1+json";
  SUBCASE("amd64 chosen among others, whatever the order") {
    auto idx = index_of(desc(mt, kA, platform("windows", "amd64")) + "," + desc(mt, kB, platform("linux", "arm")) +
                        "," + desc(mt, kC, platform("linux", "amd64")));
    CHECK(select_platform(idx).value().digest == kC);
    CHECK(select_platform(idx, "linux", "arm").value().digest == kB);
  }
  SUBCASE("no match") {
    auto idx = index_of(desc(mt, kA, platform("linux", "arm64")) + "," + desc(mt, kB, platform("linux", "s390x")));
    auto r = select_platform(idx);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::NotFound);
    CHECK(r.error().message.find("linux/arm64") != std::string::npos);
  }
  SUBCASE("a single entry without platform") {
    CHECK(select_platform(index_of(desc(mt, kA))).value().digest == kA);
    CHECK_FALSE(select_platform(index_of(desc(mt, kA) + "," + desc(mt, kB))));
  }
  SUBCASE("no mediaType: kind from the fields") {
    CHECK(document_kind(R"({"schemaVersion":2,"manifests":[]})", "x").value() == DocumentKind::Index);
  }
}

TEST_CASE("malformed and unsupported documents are errors, not exceptions") {
  CHECK(document_kind("{", "x").error().kind == ErrorKind::InvalidArgument);
  CHECK(document_kind("[]", "x").error().kind == ErrorKind::InvalidArgument);
  CHECK(document_kind(R"({"schemaVersion":1,"fsLayers":[]})", "x").error().kind == ErrorKind::Unimplemented);
  CHECK(document_kind(R"({"mediaType":"text/plain"})", "x").error().kind == ErrorKind::InvalidArgument);
  CHECK_FALSE(parse_manifest(R"({"schemaVersion":2,"config":5,"layers":[]})", "x"));
  CHECK_FALSE(parse_manifest(R"({"schemaVersion":"2","config":{},"layers":[]})", "x"));
  CHECK_FALSE(parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:abc"},"layers":[]})", "x"));
  CHECK_FALSE(parse_manifest(R"({"schemaVersion":2,"layers":[]})", "x"));
  CHECK_FALSE(parse_index(R"({"manifests":{}})", "x"));
  CHECK_FALSE(parse_config(R"({"config":{}})", "x"));  // no rootfs
  CHECK_FALSE(parse_config(R"({"rootfs":{"diff_ids":["md5:1"]}})", "x"));
}

TEST_CASE("image config") {
  std::string text = R"({"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","A=b"],
    "Entrypoint":["/init"],"Cmd":["sh","-c","x"],"WorkingDir":"/w","User":"65534:65534","StopSignal":"SIGINT",
    "Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}}},"rootfs":{"type":"layers","diff_ids":[")" +
                     kA + R"(",")" + kB + R"("]}})";
  auto c = parse_config(text, "c");
  REQUIRE(c);
  CHECK(c->platform.architecture == "amd64");
  CHECK(c->config.env == std::vector<std::string>{"PATH=/bin", "A=b"});
  CHECK(c->config.entrypoint == std::vector<std::string>{"/init"});
  CHECK(c->config.cmd == std::vector<std::string>{"sh", "-c", "x"});
  CHECK(c->config.working_dir == "/w");
  CHECK(c->config.user == "65534:65534");
  CHECK(c->config.stop_signal == "SIGINT");
  CHECK(c->config.labels == std::map<std::string, std::string>{{"k", "v"}});
  CHECK(c->diff_ids == std::vector<std::string>{kA, kB});
  auto round = config_from_json(config_to_json(c->config));
  CHECK(round.cmd == c->config.cmd);
  CHECK(round.labels == c->config.labels);
  CHECK(round.user == c->config.user);
}

TEST_CASE("chain ids follow the image spec") {
  // Expected values computed independently (python hashlib).
  auto ids = chain_ids({kA, kB, kC});
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == kA);
  CHECK(ids[1] == "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  CHECK(ids[2] == "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
  CHECK(chain_ids({}).empty());
}

TEST_CASE("OCI index annotations name images") {
  CHECK(oci_image_name({{"org.opencontainers.image.ref.name", "deckhand.test/busybox:latest"}}) ==
        "deckhand.test/busybox:latest");
  CHECK(oci_image_name({{"org.opencontainers.image.ref.name", "latest"},
                        {"io.containerd.image.name", "docker.io/library/busybox:latest"}}) ==
        "docker.io/library/busybox:latest");
  CHECK(oci_image_name({{"org.opencontainers.image.ref.name", "latest"}}).empty());
  CHECK(oci_image_name({}).empty());
}

}  // namespace deckhand::images
