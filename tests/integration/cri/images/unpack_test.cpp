// Layer unpacking into snapshot dirs: hostile tars must not reach outside
// the snapshot root; overlay markers, metadata and compressions.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "layer_unpacker.h"
#include "test_env.h"
#include "unpack_support.h"

namespace deckhand::images {

using test::Compress;
using test::TarEntry;

namespace {

// root is nested (t/a/b/root) so that "../../x" would land in t/a, which the
// test owns and can check; t/outside holds files an escape would touch.
struct UnpackWorld {
  test::TempDir t{"unpack"};
  std::string root = t.sub("a/b/root");
  std::string outside = t.sub("outside");
  std::string blob = t.sub("layer.blob");

  UnpackWorld() {
    REQUIRE(fs::make_dirs(root));
    REQUIRE(fs::make_dirs(outside));
    REQUIRE(fs::write_file_atomic(outside + "/secret", "host secret\n"));
  }

  Result<std::string> unpack(const std::vector<TarEntry>& entries, Compress c = Compress::None) {
    REQUIRE(fs::write_file_atomic(blob, test::make_tar(entries, c)));
    return unpack_layer(blob, root);
  }

  // The host side is as the test made it: only "secret", unchanged, one link.
  void check_outside_untouched() {
    auto names = fs::list_dir(outside);
    REQUIRE(names);
    CHECK(*names == std::vector<std::string>{"secret"});
    CHECK(fs::read_file(outside + "/secret").value() == "host secret\n");
    struct stat st {};
    REQUIRE(::lstat((outside + "/secret").c_str(), &st) == 0);
    CHECK(st.st_nlink == 1);
    CHECK(st.st_mode == (S_IFREG | 0644));
    auto a = fs::list_dir(t.sub("a"));
    REQUIRE(a);
    CHECK(*a == std::vector<std::string>{"b"});
    auto b = fs::list_dir(t.sub("a/b"));
    REQUIRE(b);
    CHECK(*b == std::vector<std::string>{"root"});
  }
};

struct HostFile {
  std::string path, content;
  struct stat st {};
  explicit HostFile(std::string p) : path(std::move(p)) {
    content = fs::read_file(path).value_or("");
    ::lstat(path.c_str(), &st);
  }
  void check_unchanged() const {
    CHECK(fs::read_file(path).value_or("") == content);
    struct stat now {};
    REQUIRE(::lstat(path.c_str(), &now) == 0);
    CHECK(now.st_nlink == st.st_nlink);
    CHECK(now.st_mtim.tv_sec == st.st_mtim.tv_sec);
    CHECK(now.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
  }
};

}  // namespace

TEST_CASE("entries with .. are clamped inside the root") {
  UnpackWorld w;
  auto r = w.unpack({test::file("../../escape", "x"), test::file("x/../../../../../../up", "y"),
                     test::file("./ok/../fine", "z")});
  REQUIRE(r);
  CHECK(fs::read_file(w.root + "/escape").value() == "x");
  CHECK(fs::read_file(w.root + "/up").value() == "y");
  CHECK(fs::read_file(w.root + "/fine").value() == "z");
  CHECK_FALSE(test::lexists(w.t.sub("a/escape")));
  CHECK_FALSE(test::lexists(w.t.sub("up")));
  w.check_outside_untouched();
}

TEST_CASE("absolute names land inside the root") {
  UnpackWorld w;
  std::string name = test::unique_name("evil", 30);
  auto r = w.unpack({test::file("/etc/" + name, "evil"), test::file(w.outside + "/secret", "overwritten")});
  REQUIRE(r);
  CHECK_FALSE(test::lexists("/etc/" + name));
  CHECK(fs::read_file(w.root + "/etc/" + name).value() == "evil");
  CHECK(fs::read_file(w.root + w.outside + "/secret").value() == "overwritten");
  w.check_outside_untouched();
}

TEST_CASE("a symlink to a host directory is never followed") {
  UnpackWorld w;
  HostFile passwd("/etc/passwd");
  SUBCASE("absolute symlink to an existing host dir, then a file under it") {
    auto r = w.unpack({test::symlink("evil", w.outside), test::file("evil/pwned", "x")});
    // outside's path does not exist inside the root: the entry has nowhere to go.
    CHECK_FALSE(r);
    CHECK(test::lexists(w.root + "/evil"));
  }
  SUBCASE("symlink evil -> /etc, then evil/passwd, with and without etc/ in the layer") {
    CHECK_FALSE(w.unpack({test::symlink("evil", "/etc"), test::file("evil/passwd", "root::0:0::/:/bin/sh\n")}));
    REQUIRE(fs::remove_all(w.root));
    REQUIRE(fs::make_dirs(w.root));
    auto r = w.unpack({test::dir("etc"), test::symlink("evil", "/etc"), test::file("evil/passwd", "pwned\n")});
    REQUIRE(r);
    CHECK(fs::read_file(w.root + "/etc/passwd").value() == "pwned\n");
  }
  SUBCASE("relative symlink climbing out") {
    REQUIRE(fs::make_dirs(w.root + "/x"));
    auto r = w.unpack({test::symlink("up", "../../../../../../.."), test::file("up/climbed", "c"),
                       test::symlink("out", "../../../outside"), test::file("out/secret", "overwritten")});
    CHECK_FALSE(r);  // "out" points at /outside inside the root, which is missing
    CHECK(fs::read_file(w.root + "/climbed").value() == "c");
    CHECK_FALSE(test::lexists(w.t.sub("climbed")));
  }
  SUBCASE("a file replacing a symlink does not write through it") {
    auto r = w.unpack({test::symlink("f", w.outside + "/secret"), test::file("f", "new")});
    REQUIRE(r);
    CHECK(fs::read_file(w.root + "/f").value() == "new");
  }
  SUBCASE("a symlinked parent with a host path that also exists inside the root") {
    // The symlink resolves inside the root: the file lands there.
    auto r = w.unpack({test::dir(w.outside.substr(1)), test::symlink("evil", w.outside),
                       test::file("evil/secret", "inside")});
    REQUIRE(r);
    CHECK(fs::read_file(w.root + w.outside + "/secret").value() == "inside");
  }
  w.check_outside_untouched();
  passwd.check_unchanged();
}

TEST_CASE("hardlinks must point inside the layer") {
  UnpackWorld w;
  HostFile passwd("/etc/passwd");
  SUBCASE("to /etc/passwd") {
    CHECK_FALSE(w.unpack({test::hardlink("pw", "/etc/passwd")}));
    CHECK_FALSE(test::lexists(w.root + "/pw"));
  }
  SUBCASE("to ../../x") {
    REQUIRE(fs::write_file_atomic(w.t.sub("a/x"), "x"));
    auto r = w.unpack({test::hardlink("x", "../../x")});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
    CHECK_FALSE(test::lexists(w.root + "/x"));
    REQUIRE(::unlink(w.t.sub("a/x").c_str()) == 0);
  }
  SUBCASE("to a host file by absolute path") {
    CHECK_FALSE(w.unpack({test::hardlink("s", w.outside + "/secret")}));
  }
  SUBCASE("through a symlinked directory") {
    CHECK_FALSE(w.unpack({test::symlink("o", w.outside), test::hardlink("s", "o/secret")}));
  }
  SUBCASE("inside the layer works") {
    auto r = w.unpack({test::file("etc/passwd", "layer\n"), test::hardlink("pw", "/etc/passwd")});
    REQUIRE(r);
    struct stat a {}, b {};
    REQUIRE(::lstat((w.root + "/etc/passwd").c_str(), &a) == 0);
    REQUIRE(::lstat((w.root + "/pw").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK(a.st_nlink == 2);
  }
  w.check_outside_untouched();
  passwd.check_unchanged();
}

TEST_CASE("device nodes are skipped, fifos kept") {
  UnpackWorld w;
  auto r = w.unpack({test::device("dev/sda", TarEntry::CharDev, 8, 0), test::device("dev/loop0", TarEntry::BlockDev, 7, 0),
                     test::device("dev/null", TarEntry::CharDev, 1, 3), test::device("pipe", TarEntry::Fifo, 0, 0),
                     test::device("gone", TarEntry::CharDev, 0, 0)});
  REQUIRE(r);
  CHECK_FALSE(test::lexists(w.root + "/dev/sda"));
  CHECK_FALSE(test::lexists(w.root + "/dev/loop0"));
  CHECK_FALSE(test::lexists(w.root + "/dev/null"));
  struct stat st {};
  REQUIRE(::lstat((w.root + "/pipe").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  // 0:0 is an overlay whiteout in the tar already: kept as one.
  REQUIRE(::lstat((w.root + "/gone").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(0, 0));
  w.check_outside_untouched();
}

TEST_CASE("whiteouts and opaque dirs become overlay markers") {
  UnpackWorld w;
  auto r = w.unpack({test::dir("a"), test::file("a/.wh.gone", ""), test::file(".wh.top", ""), test::dir("c"),
                     test::file("c/.wh..wh..opq", ""), test::file("c/keep", "k"), test::file(".wh..wh.plnk", "")});
  REQUIRE(r);
  for (auto p : {"/a/gone", "/top"}) {
    CAPTURE(p);
    struct stat st {};
    REQUIRE(::lstat((w.root + p).c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
  }
  char v[8] = {};
  ssize_t n = ::lgetxattr((w.root + "/c").c_str(), "trusted.overlay.opaque", v, sizeof v);
  REQUIRE(n == 1);
  CHECK(v[0] == 'y');
  CHECK(::lgetxattr((w.root + "/a").c_str(), "trusted.overlay.opaque", v, sizeof v) < 0);
  CHECK(fs::read_file(w.root + "/c/keep").value() == "k");
  // No marker file is left with its tar name.
  CHECK_FALSE(test::lexists(w.root + "/a/.wh.gone"));
  CHECK_FALSE(test::lexists(w.root + "/c/.wh..wh..opq"));
  CHECK_FALSE(test::lexists(w.root + "/.wh..wh.plnk"));
  CHECK_FALSE(test::lexists(w.root + "/plnk"));
}

TEST_CASE("modes, owners, times, xattrs and links are applied") {
  UnpackWorld w;
  auto f = test::file("bin/tool", "#!/bin/sh\n", 04755);
  f.uid = 1234;
  f.gid = 5678;
  f.mtime = 1500000000;
  f.xattrs.emplace(std::string("user.deckhand"), std::string(1, 'v'));
  auto d = test::dir("private", 0700);
  d.uid = 42;
  d.mtime = 1400000000;
  auto l = test::symlink("bin/sh", "/bin/busybox");
  l.uid = 7;
  auto sticky = test::dir("tmp", 01777);
  auto r = w.unpack({f, d, test::file("private/inner", "i"), l, sticky});
  REQUIRE(r);
  struct stat st {};
  REQUIRE(::lstat((w.root + "/bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  CHECK(st.st_uid == 1234);
  CHECK(st.st_gid == 5678);
  CHECK(st.st_mtim.tv_sec == 1500000000);
  char v[4] = {};
  CHECK(::lgetxattr((w.root + "/bin/tool").c_str(), "user.deckhand", v, sizeof v) == 1);
  REQUIRE(::lstat((w.root + "/bin").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);  // implied parent
  REQUIRE(::lstat((w.root + "/private").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == 42);
  CHECK(st.st_mtim.tv_sec == 1400000000);  // kept although a file was created in it afterwards
  REQUIRE(::lstat((w.root + "/bin/sh").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(st.st_uid == 7);
  char target[64] = {};
  REQUIRE(::readlink((w.root + "/bin/sh").c_str(), target, sizeof target - 1) > 0);
  CHECK(std::string(target) == "/bin/busybox");
  REQUIRE(::lstat((w.root + "/tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
}

TEST_CASE("gzip, zstd and plain layers unpack alike and yield the diff id") {
  std::vector<TarEntry> entries = {test::dir("d"), test::file("d/f", std::string(300000, 'q')),
                                   test::symlink("l", "d/f")};
  std::string want = test::diff_id_of(entries);
  for (auto c : {Compress::None, Compress::Gzip, Compress::Zstd}) {
    CAPTURE(static_cast<int>(c));
    UnpackWorld w;
    auto r = w.unpack(entries, c);
    REQUIRE(r);
    CHECK(*r == want);
    CHECK(fs::read_file(w.root + "/d/f").value().size() == 300000);
  }
}

TEST_CASE("garbage is not a layer") {
  UnpackWorld w;
  REQUIRE(fs::write_file_atomic(w.blob, std::string(100, 'z')));
  CHECK_FALSE(unpack_layer(w.blob, w.root));
  std::string gz = test::make_tar({test::file("f", std::string(5000, 'x'))}, Compress::Gzip);
  REQUIRE(fs::write_file_atomic(w.blob, gz.substr(0, gz.size() / 2)));  // truncated
  CHECK_FALSE(unpack_layer(w.blob, w.root));
}

}  // namespace deckhand::images
