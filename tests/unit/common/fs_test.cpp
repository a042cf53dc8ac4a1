#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;

TEST_CASE("write_file_atomic replaces the whole file and leaves no temp file") {
  test::TempDir dir;
  auto path = dir.sub("state.json");
  REQUIRE(fs::write_file_atomic(path, "one", 0600));
  REQUIRE(fs::write_file_atomic(path, "two two", 0600));
  CHECK(fs::read_file(path).value() == "two two");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(fs::list_dir(dir.path()).value().size() == 1);
}

TEST_CASE("write_file_atomic into a missing directory fails naming the path") {
  test::TempDir dir;
  auto r = fs::write_file_atomic(dir.sub("missing/x"), "data");
  REQUIRE(!r);
  CHECK(r.error().message.find("missing/x") != std::string::npos);
}

TEST_CASE("make_dirs and remove_all") {
  test::TempDir dir;
  REQUIRE(fs::make_dirs(dir.sub("a/b/c")));
  REQUIRE(fs::make_dirs(dir.sub("a/b/c")));  // existing is fine
  REQUIRE(fs::write_file_atomic(dir.sub("a/b/c/f"), "x"));
  REQUIRE(::symlink("/etc/passwd", dir.sub("a/link").c_str()) == 0);
  REQUIRE(fs::remove_all(dir.sub("a")));
  CHECK(!fs::exists(dir.sub("a")));
  CHECK(fs::exists("/etc/passwd"));  // symlink removed, not followed
  CHECK(fs::remove_all(dir.sub("never-was")));
}

TEST_CASE("make_dirs over a file fails") {
  test::TempDir dir;
  REQUIRE(fs::write_file_atomic(dir.sub("f"), "x"));
  CHECK(!fs::make_dirs(dir.sub("f")));
}

TEST_CASE("join") {
  CHECK(fs::join("/a/", "/b") == "/a/b");
  CHECK(fs::join("/", "b") == "/b");
  CHECK(fs::join("a", "b/c") == "a/b/c");
}

TEST_CASE("list_dir of a missing directory is empty") {
  CHECK(fs::list_dir("/nonexistent-deckhand-dir").value().empty());
}

TEST_CASE("disk_usage counts inodes, and a hard-linked file once") {
  test::TempDir dir;
  REQUIRE(fs::make_dirs(dir.sub("d")));
  REQUIRE(fs::write_file_atomic(dir.sub("d/f"), std::string(10000, 'x')));
  REQUIRE(::link(dir.sub("d/f").c_str(), dir.sub("d/g").c_str()) == 0);
  auto u = fs::disk_usage(dir.path());
  REQUIRE(u);
  CHECK(u->inodes == 2);  // d and f (g is f again)
  CHECK(u->bytes >= 10000);
  CHECK(!fs::disk_usage(dir.sub("missing")));
}

TEST_CASE("spread_subdirectories sets FS_TOPDIR_FL where the filesystem has inode flags") {
  test::TempDir dir;
  auto sub = dir.sub("containers");
  REQUIRE(fs::make_dirs(sub));
  REQUIRE(fs::spread_subdirectories(sub));
  REQUIRE(fs::spread_subdirectories(sub));  // again: nothing to change
  auto fd = fs::open_fd(sub, O_RDONLY | O_DIRECTORY);
  REQUIRE(fd);
  struct statfs fsinfo {};
  REQUIRE(::fstatfs(fd->get(), &fsinfo) == 0);
  if (fsinfo.f_type != EXT4_SUPER_MAGIC) {
    MESSAGE(sub << " is not on ext2/3/4: only that the call is harmless is checked");
  } else {
    int flags = 0;
    REQUIRE(::ioctl(fd->get(), FS_IOC_GETFLAGS, &flags) == 0);
    CHECK((flags & FS_TOPDIR_FL) != 0);
  }
  auto missing = fs::spread_subdirectories(dir.sub("nope"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find(dir.sub("nope")) != std::string::npos);
}
