#include "deckhand/images/image_ref.h"

#include <doctest/doctest.h>

namespace deckhand::images {

namespace {
const std::string kDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
}

TEST_CASE("parse_ref normalises references as Docker does") {
  struct Case {
    std::string in, domain, path, tag, digest, string;
  };
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"user/app:v1", "docker.io", "user/app", "v1", "", "docker.io/user/app:v1"},
      {"localhost/app", "localhost", "app", "latest", "", "localhost/app:latest"},
      {"127.0.0.1:5000/app:t", "127.0.0.1:5000", "app", "t", "", "127.0.0.1:5000/app:t"},
      {"registry:5000/a/b", "registry:5000", "a/b", "latest", "", "registry:5000/a/b:latest"},
      {"quay.io/x/y-z__w.v:1_0.a-b", "quay.io", "x/y-z__w.v", "1_0.a-b", "", "quay.io/x/y-z__w.v:1_0.a-b"},
      {"busybox@" + kDigest, "docker.io", "library/busybox", "", kDigest, "docker.io/library/busybox@" + kDigest},
      {"busybox:1@" + kDigest, "docker.io", "library/busybox", "1", kDigest,
       "docker.io/library/busybox:1@" + kDigest},
      {"[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000/app:latest"},
  };
  for (auto& c : cases) {
    CAPTURE(c.in);
    auto r = parse_ref(c.in);
    REQUIRE(r);
    CHECK(r->domain == c.domain);
    CHECK(r->path == c.path);
    CHECK(r->tag == c.tag);
    CHECK(r->digest == c.digest);
    CHECK(r->string() == c.string);
    CHECK(r->name() == c.domain + "/" + c.path);
    CHECK(r->tagged() == (c.tag.empty() ? "" : c.domain + "/" + c.path + ":" + c.tag));
  }
}

TEST_CASE("parse_ref rejects malformed references and names them") {
  const std::string bad[] = {
      "",          "Busybox",       "docker.io/Library/busybox", "busybox:",  "busybox:-x", ":tag",
      "a//b",      "busybox@sha256:abc", "busybox@md5:" + std::string(64, 'a'), "a/b/",  "-a",   "a-",
      "a..b",      "host:99999999/app", "bad host/app",  "a b",  "busybox:" + std::string(129, 't'), "x_.y",
  };
  for (auto& in : bad) {
    CAPTURE(in);
    auto r = parse_ref(in);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
    CHECK(r.error().message.find("\"" + in + "\"") != std::string::npos);
  }
}

TEST_CASE("parse_ref limits the name length") {
  std::string long_name = "docker.io/" + std::string(250, 'a');
  CHECK_FALSE(parse_ref(long_name));
  CHECK(parse_ref("docker.io/" + std::string(200, 'a')));
}

}  // namespace deckhand::images
