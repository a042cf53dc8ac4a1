#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "deckhand/runtime/oci_spec.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "daemon:x:1:1::/:/bin/false\n"
    "broken-line\n"
    "www:x:33:33:www:/var/www:/bin/false\n"
    "alice:x:1000:1000::/home/alice:/bin/sh\n"
    "big:x:4294967295:4294967295::/:/bin/sh\n"
    "overflow:x:4294967296:1::/:/bin/sh\n";

constexpr const char* kGroup =
    "root:x:0:\n"
    "wheel:x:10:alice,root\n"
    "audio:x:29:bob,alice\n"
    "www:x:33:\n"
    "alice:x:1000:alice\n"
    "staff:x:50\n";

struct FakeRoot {
  test::TempDir dir{"deckhand-user"};
  FakeRoot(const char* passwd = kPasswd, const char* group = kGroup) {
    REQUIRE(fs::make_dirs(dir.sub("rootfs/etc")));
    if (passwd) REQUIRE(fs::write_file_atomic(dir.sub("rootfs/etc/passwd"), passwd));
    if (group) REQUIRE(fs::write_file_atomic(dir.sub("rootfs/etc/group"), group));
  }
  std::string rootfs() const { return dir.sub("rootfs"); }
};

UserIds resolve(const FakeRoot& r, const std::string& user) {
  auto ids = resolve_user(r.rootfs(), user);
  if (!ids) FAIL(ids.error().message);
  return *ids;
}

}  // namespace

TEST_CASE("resolve_user: by name, with supplementary groups") {
  FakeRoot r;
  auto ids = resolve(r, "alice");
  CHECK(ids.uid == 1000);
  CHECK(ids.gid == 1000);
  CHECK(ids.additional_gids == std::vector<uint32_t>{10, 29});  // not its primary group again
  auto root = resolve(r, "root");
  CHECK(root.uid == 0);
  CHECK(root.additional_gids == std::vector<uint32_t>{10});
  CHECK(resolve(r, "").uid == 0);
}

TEST_CASE("resolve_user: numeric uid, known and unknown") {
  FakeRoot r;
  auto ids = resolve(r, "33");
  CHECK(ids.uid == 33);
  CHECK(ids.gid == 33);
  auto unknown = resolve(r, "4242");
  CHECK(unknown.uid == 4242);
  CHECK(unknown.gid == 0);
  CHECK(unknown.additional_gids.empty());
  CHECK(resolve(r, "4294967295").gid == 4294967295u);
  CHECK(resolve(r, "1000").additional_gids == std::vector<uint32_t>{10, 29});  // the uid's name is a member
}

TEST_CASE("resolve_user: user:group forms") {
  FakeRoot r;
  auto a = resolve(r, "alice:wheel");
  CHECK(a.uid == 1000);
  CHECK(a.gid == 10);
  CHECK(a.additional_gids == std::vector<uint32_t>{29, 1000});
  auto b = resolve(r, "1000:50");
  CHECK(b.uid == 1000);
  CHECK(b.gid == 50);
  auto c = resolve(r, "www:7");
  CHECK(c.uid == 33);
  CHECK(c.gid == 7);
  auto d = resolve(r, "4242:staff");
  CHECK(d.uid == 4242);
  CHECK(d.gid == 50);
}

TEST_CASE("resolve_user: errors name the user or group") {
  FakeRoot r;
  auto e = resolve_user(r.rootfs(), "mallory");
  REQUIRE(!e);
  CHECK(e.error().kind == ErrorKind::NotFound);
  CHECK(e.error().message.find("mallory") != std::string::npos);
  e = resolve_user(r.rootfs(), "alice:nogroup");
  REQUIRE(!e);
  CHECK(e.error().kind == ErrorKind::NotFound);
  CHECK(e.error().message.find("nogroup") != std::string::npos);
  CHECK(resolve_user(r.rootfs(), "overflow").error().kind == ErrorKind::NotFound);  // uid out of range: skipped
  CHECK(resolve_user(r.rootfs(), ":0").error().kind == ErrorKind::InvalidArgument);
  CHECK(resolve_user(r.rootfs(), "alice:").error().kind == ErrorKind::InvalidArgument);
  CHECK(!resolve_user(r.dir.sub("no-such-rootfs"), "root"));
}

TEST_CASE("resolve_user: no /etc/passwd or /etc/group in the image") {
  FakeRoot r(nullptr, nullptr);
  auto ids = resolve(r, "123:456");
  CHECK(ids.uid == 123);
  CHECK(ids.gid == 456);
  CHECK(resolve(r, "0").gid == 0);
  CHECK(resolve_user(r.rootfs(), "alice").error().kind == ErrorKind::NotFound);
}

TEST_CASE("resolve_user: symlinks cannot lead out of the rootfs") {
  FakeRoot r(nullptr, nullptr);
  // A file outside the rootfs that would resolve "alice" if it were read.
  REQUIRE(fs::write_file_atomic(r.dir.sub("shadow"), "alice:x:0:0::/:/bin/sh\n"));
  std::string outside = r.dir.sub("shadow");
  SUBCASE("absolute symlink") {
    REQUIRE(::symlink(outside.c_str(), r.dir.sub("rootfs/etc/passwd").c_str()) == 0);
    CHECK(resolve_user(r.rootfs(), "alice").error().kind == ErrorKind::NotFound);
  }
  SUBCASE("relative symlink climbing with ..") {
    REQUIRE(::symlink("../../../../../../shadow", r.dir.sub("rootfs/etc/passwd").c_str()) == 0);
    CHECK(resolve_user(r.rootfs(), "alice").error().kind == ErrorKind::NotFound);
  }
  SUBCASE("symlinked /etc directory") {
    REQUIRE(fs::remove_all(r.dir.sub("rootfs/etc")));
    REQUIRE(fs::make_dirs(r.dir.sub("hostetc")));
    REQUIRE(fs::write_file_atomic(r.dir.sub("hostetc/passwd"), "alice:x:0:0::/:/bin/sh\n"));
    REQUIRE(::symlink(r.dir.sub("hostetc").c_str(), r.dir.sub("rootfs/etc").c_str()) == 0);
    CHECK(resolve_user(r.rootfs(), "alice").error().kind == ErrorKind::NotFound);
  }
  SUBCASE("a symlink inside the rootfs is followed within it") {
    REQUIRE(fs::write_file_atomic(r.dir.sub("rootfs/etc/passwd.real"), "alice:x:77:78::/:/bin/sh\n"));
    REQUIRE(::symlink("/etc/passwd.real", r.dir.sub("rootfs/etc/passwd").c_str()) == 0);
    CHECK(resolve(r, "alice").uid == 77);
  }
}

TEST_CASE("resolve_user: a FIFO as /etc/passwd is refused, not waited on") {
  FakeRoot r(nullptr, kGroup);
  REQUIRE(::mkfifo(r.dir.sub("rootfs/etc/passwd").c_str(), 0644) == 0);
  auto e = resolve_user(r.rootfs(), "alice");
  REQUIRE(!e);
  CHECK(e.error().kind == ErrorKind::InvalidArgument);
  CHECK(e.error().message.find("regular file") != std::string::npos);
}
