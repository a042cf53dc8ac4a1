// Image store over real archives: the busybox fixtures (OCI layout tar,
// docker-archive, two layers) and crafted layouts; names, lookups, removal,
// garbage collection, persistence, failures that leave nothing behind.
#include <sys/stat.h>

#include <cstdlib>
#include <thread>

#include <doctest/doctest.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/images/image_store.h"
#include "test_env.h"
#include "unpack_support.h"

namespace deckhand::images {

namespace {

// Built by tests/fixtures/meson.build; DECKHAND_FIXTURE_DIR overrides.
std::string fixture(const std::string& name) {
  const char* dir = std::getenv("DECKHAND_FIXTURE_DIR");
  std::string p = dir && *dir ? std::string(dir) + "/" + name : test::build_path("tests/fixtures/" + name);
  REQUIRE_MESSAGE(fs::exists(p), "fixture missing: ", p);
  return p;
}

struct StoreWorld {
  test::TempDir t{"images"};
  std::string root = t.sub("store");
  std::unique_ptr<ImageStore> store;
  StoreWorld() { reopen(); }
  void reopen() {
    store.reset();
    auto s = ImageStore::open(root);
    REQUIRE(s);
    store = std::move(*s);
  }
  std::vector<std::string> snapshots() const { return fs::list_dir(root + "/snapshots").value(); }
  std::vector<std::string> blobs() const { return store->content().list().value(); }
};

// config + compressed layer sizes, read from the manifest independently of the store.
uint64_t expected_size(ContentStore& cs, const std::string& manifest_digest) {
  auto m = parse_json(cs.read(manifest_digest).value(), "manifest").value();
  uint64_t size = m["config"]["size"].get<uint64_t>();
  for (auto& l : m["layers"]) size += l["size"].get<uint64_t>();
  return size;
}

std::vector<std::string> blob_names(const test::TempDir& layout) {
  auto names = fs::list_dir(layout.sub("blobs/sha256"));
  REQUIRE(names);
  return *names;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("import the busybox OCI layout tar") {
  StoreWorld w;
  auto imported = w.store->import_archive(fixture("busybox-oci.tar"));
  REQUIRE(imported);
  REQUIRE(imported->size() == 1);
  const Image& img = imported->front();
  CHECK(is_sha256_digest(img.id));
  CHECK(img.repo_tags == std::vector<std::string>{"deckhand.test/busybox:latest"});
  REQUIRE(img.repo_digests.size() == 1);
  CHECK(img.repo_digests[0] == "deckhand.test/busybox@" + img.manifest_digest);
  CHECK(img.config.cmd == std::vector<std::string>{"sh"});
  CHECK(img.config.env == std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"});
  CHECK(img.size == expected_size(w.store->content(), img.manifest_digest));
  CHECK(img.size > 900000);
  REQUIRE(img.layer_dirs.size() == 1);
  const std::string fsdir = img.layer_dirs[0];
  CHECK(fsdir.starts_with(w.root + "/snapshots/"));
  CHECK(fsdir.ends_with("/fs"));
  struct stat st {};
  REQUIRE(::lstat((fsdir + "/bin/busybox").c_str(), &st) == 0);
  CHECK((st.st_mode & 0111) != 0);
  CHECK(st.st_size > 100000);
  char target[64] = {};
  REQUIRE(::readlink((fsdir + "/bin/sh").c_str(), target, sizeof target - 1) > 0);
  CHECK(std::string(target) == "/bin/busybox");
  REQUIRE(::lstat((fsdir + "/tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
  CHECK(fs::read_file(fsdir + "/etc/passwd").value().find("nobody:x:65534:65534") != std::string::npos);

  // busybox actually runs from the snapshot (overlay lowerdirs hold whole files).
  auto echo = run_process({.argv = {fsdir + "/bin/busybox", "echo", "hi"}});
  REQUIRE(echo);
  CHECK(echo->out == "hi\n");

  SUBCASE("lookups") {
    CHECK(w.store->get("deckhand.test/busybox").value().id == img.id);
    CHECK(w.store->get("deckhand.test/busybox:latest").value().id == img.id);
    CHECK(w.store->get(img.id).value().id == img.id);
    CHECK(w.store->get(img.id.substr(7)).value().id == img.id);
    CHECK(w.store->get(img.id.substr(7, 12)).value().id == img.id);
    CHECK(w.store->get(img.repo_digests[0]).value().id == img.id);
    CHECK(w.store->get("deckhand.test/busybox:other@" + img.manifest_digest).value().id == img.id);
    auto missing = w.store->get("deckhand.test/busybox:nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::NotFound);
    CHECK(w.store->get("deckhand.test/other@" + img.manifest_digest).error().kind == ErrorKind::NotFound);
    CHECK(w.store->get("sha256:" + std::string(64, '0')).error().kind == ErrorKind::NotFound);
    auto bad = w.store->get("Deckhand.test/Busybox");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == ErrorKind::InvalidArgument);
    CHECK(bad.error().message.find("Deckhand.test/Busybox") != std::string::npos);
  }
  SUBCASE("list, tag, fs usage") {
    auto all = w.store->list();
    REQUIRE(all.size() == 1);
    CHECK(all[0].id == img.id);
    REQUIRE(w.store->tag(img.id, "busybox:mine"));
    CHECK(w.store->get("docker.io/library/busybox:mine").value().id == img.id);
    CHECK(w.store->get("deckhand.test/busybox").value().repo_tags.size() == 2);
    CHECK_FALSE(w.store->tag(img.id, "Bad"));
    auto u = w.store->fs_usage();
    REQUIRE(u);
    CHECK(u->mountpoint == w.root);
    CHECK(u->used_bytes > 2 * 900000);  // the busybox blob and its unpacked copy
    CHECK(u->inodes_used > 60);
  }
}

TEST_CASE("import the docker-archive and the OCI tar of the same image") {
  StoreWorld w;
  auto d = w.store->import_archive(fixture("busybox-docker.tar"));
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  auto& di = d->front();
  CHECK(contains(di.repo_tags, "deckhand.test/busybox:docker"));
  CHECK(contains(di.repo_tags, "docker.io/library/busybox:deckhand-test"));
  CHECK(w.store->get("busybox:deckhand-test").value().id == di.id);
  CHECK(di.config.cmd == std::vector<std::string>{"sh"});
  REQUIRE(di.layer_dirs.size() == 1);
  CHECK(fs::exists(di.layer_dirs[0] + "/bin/busybox"));
  CHECK(di.size == expected_size(w.store->content(), di.manifest_digest));

  // Same config, so the same image; the uncompressed docker layer and the
  // gzipped OCI one have one diff id, so one snapshot.
  auto o = w.store->import_archive(fixture("busybox-oci.tar"));
  REQUIRE(o);
  CHECK(o->front().id == di.id);
  CHECK(w.store->list().size() == 1);
  CHECK(w.store->get(di.id).value().repo_tags.size() == 3);
  CHECK(w.snapshots().size() == 1);
  CHECK(o->front().layer_dirs == di.layer_dirs);
}

TEST_CASE("a two-layer image: lower dirs in order, whiteout in the upper") {
  StoreWorld w;
  auto r = w.store->import_archive(fixture("busybox-2layer-oci.tar"));
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  auto& img = r->front();
  CHECK(img.repo_tags == std::vector<std::string>{"deckhand.test/busybox:2layer"});
  REQUIRE(img.layer_dirs.size() == 2);
  CHECK(fs::exists(img.layer_dirs[0] + "/bin/busybox"));
  CHECK_FALSE(fs::exists(img.layer_dirs[1] + "/bin/busybox"));
  CHECK(fs::read_file(img.layer_dirs[1] + "/etc/motd").value() == "deckhand second layer\n");
  struct stat st {};
  REQUIRE(::lstat((img.layer_dirs[1] + "/etc/group").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == 0);
  CHECK(w.snapshots().size() == 2);
}

TEST_CASE("remove drops every name; garbage collection reclaims what nothing uses") {
  StoreWorld w;
  auto one = w.store->import_archive(fixture("busybox-oci.tar"));
  auto two = w.store->import_archive(fixture("busybox-2layer-oci.tar"));
  REQUIRE(one);
  REQUIRE(two);
  REQUIRE(w.store->tag("deckhand.test/busybox:latest", "deckhand.test/busybox:alias"));
  std::string id1 = one->front().id, id2 = two->front().id;
  auto layer1 = one->front().layer_dirs[0];
  auto top2 = two->front().layer_dirs[1];
  CHECK(w.snapshots().size() == 2);  // the base layer is shared
  auto blobs_before = w.blobs().size();

  REQUIRE(w.store->remove("deckhand.test/busybox:alias"));
  CHECK(w.store->get("deckhand.test/busybox:latest").error().kind == ErrorKind::NotFound);
  CHECK(w.store->get("deckhand.test/busybox:alias").error().kind == ErrorKind::NotFound);
  CHECK(w.store->get(id1).error().kind == ErrorKind::NotFound);
  CHECK(w.store->get(one->front().repo_digests[0]).error().kind == ErrorKind::NotFound);
  CHECK(w.store->remove(id1).error().kind == ErrorKind::NotFound);
  REQUIRE(w.store->list().size() == 1);
  CHECK(w.snapshots().size() == 2);  // removal alone reclaims nothing
  CHECK(w.blobs().size() == blobs_before);

  // The second image shares the base layer: nothing of it may go.
  REQUIRE(w.store->garbage_collect({}));
  CHECK(fs::exists(layer1 + "/bin/busybox"));
  CHECK(w.snapshots().size() == 2);
  // Its manifest and config go; its layer blob is the second image's base layer and stays.
  CHECK(w.blobs().size() == blobs_before - 2);
  CHECK_FALSE(w.store->content().has(one->front().manifest_digest));
  CHECK_FALSE(w.store->content().has(id1));
  CHECK(w.store->content().has(two->front().manifest_digest));

  // An image still in use survives removal and collection.
  REQUIRE(w.store->remove(id2.substr(7, 10)));
  REQUIRE(w.store->garbage_collect({id2}));
  CHECK(fs::exists(top2 + "/etc/motd"));
  CHECK(w.store->list().empty());
  REQUIRE(w.store->garbage_collect({}));
  CHECK(w.snapshots().empty());
  CHECK(w.blobs().empty());
}

TEST_CASE("metadata persists across reopen") {
  StoreWorld w;
  auto r = w.store->import_archive(fixture("busybox-docker.tar"));
  REQUIRE(r);
  auto before = w.store->get("busybox:deckhand-test").value();
  w.reopen();
  auto after = w.store->get("busybox:deckhand-test");
  REQUIRE(after);
  CHECK(after->id == before.id);
  CHECK(after->repo_tags == before.repo_tags);
  CHECK(after->repo_digests == before.repo_digests);
  CHECK(after->layer_dirs == before.layer_dirs);
  CHECK(after->config.env == before.config.env);
  CHECK(after->size == before.size);
  REQUIRE(w.store->remove(before.id));
  w.reopen();
  CHECK(w.store->list().empty());
  REQUIRE(w.store->garbage_collect({}));
  CHECK(w.snapshots().empty());
}

TEST_CASE("register_image: names, index platform selection, missing blobs") {
  StoreWorld w;
  test::TempDir layout("layout");
  std::string manifest =
      test::write_oci_layout(layout.path(), {{test::file("hello", "world")}}, "", test::Compress::Gzip);
  auto& cs = w.store->content();
  for (auto& n : blob_names(layout))
    REQUIRE(cs.put(fs::read_file(layout.sub("blobs/sha256/" + n)).value()));
  // A manifest list (Docker) with an arm64 entry first.
  Json list{{"schemaVersion", 2},
            {"mediaType", "application/vnd.docker.distribution.manifest.list.v2+json"},
            {"manifests",
             {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
               {"digest", "sha256:" + std::string(64, 'e')},
               {"size", 1},
               {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
              {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
               {"digest", manifest},
               {"size", 1},
               {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  auto top = cs.put(list.dump());
  REQUIRE(top);
  auto img = w.store->register_image("docker.io/library/hello:1", *top);
  REQUIRE(img);
  CHECK(img->manifest_digest == manifest);
  CHECK(img->repo_digests == std::vector<std::string>{"docker.io/library/hello@" + *top});
  CHECK(fs::read_file(img->layer_dirs.at(0) + "/hello").value() == "world");
  CHECK(w.store->get("hello:1").value().id == img->id);
  CHECK(w.store->get("hello@" + *top).value().id == img->id);

  CHECK(w.store->register_image("Bad", *top).error().kind == ErrorKind::InvalidArgument);
  CHECK(w.store->register_image("x:1", "sha256:" + std::string(64, '1')).error().kind == ErrorKind::NotFound);
  // A blob of the index that is missing: no snapshot, nothing registered.
  Json only_arm = list;
  only_arm["manifests"].erase(1);
  auto arm = cs.put(only_arm.dump());
  auto r = w.store->register_image("x:2", *arm);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::NotFound);
  CHECK(w.store->list().size() == 1);

  // Moving a tag to another image.
  test::TempDir layout2("layout");
  std::string m2 = test::write_oci_layout(layout2.path(), {{test::file("v", "2")}}, "", test::Compress::Zstd);
  for (auto& n : blob_names(layout2))
    REQUIRE(cs.put(fs::read_file(layout2.sub("blobs/sha256/" + n)).value()));
  auto img2 = w.store->register_image("hello:1", m2);
  REQUIRE(img2);
  CHECK(img2->id != img->id);
  CHECK(w.store->get("hello:1").value().id == img2->id);
  auto old = w.store->get(img->id);
  REQUIRE(old);  // still there by id and repo digest
  CHECK(old->repo_tags.empty());
}

TEST_CASE("ambiguous id prefixes name the candidates") {
  StoreWorld w;
  // Images differing only by a label until two ids share their first hex digit.
  std::map<char, std::string> by_first;
  std::string a, b;
  for (int i = 0; i < 40 && a.empty(); ++i) {
    test::TempDir layout("layout");
    std::string m = test::write_oci_layout(layout.path(), {{test::file("f", "x")}}, "", test::Compress::Gzip, {},
                                           std::to_string(i));
    for (auto& n : blob_names(layout))
      REQUIRE(w.store->content().put(fs::read_file(layout.sub("blobs/sha256/" + n)).value()));
    auto img = w.store->register_image("t/img:" + std::to_string(i), m);
    REQUIRE(img);
    char first = img->id[7];
    if (by_first.contains(first)) {
      a = by_first[first];
      b = img->id;
    }
    by_first[first] = img->id;
  }
  REQUIRE_FALSE(a.empty());
  auto r = w.store->get(std::string(1, a[7]));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK(r.error().message.find(a) != std::string::npos);
  CHECK(r.error().message.find(b) != std::string::npos);
  CHECK(w.snapshots().size() == 1);  // one layer for all of them
}

TEST_CASE("a failing layer leaves no snapshot and no image") {
  StoreWorld w;
  test::TempDir layout("layout");
  SUBCASE("hostile hardlink") {
    test::write_oci_layout(layout.path(), {{test::file("ok", "1")}, {test::hardlink("x", "../../x")}},
                           "deckhand.test/bad:1");
  }
  SUBCASE("diff id mismatch") {
    test::write_oci_layout(layout.path(), {{test::file("ok", "1")}, {test::file("f", "2")}}, "deckhand.test/bad:1",
                           test::Compress::Gzip,
                           {test::diff_id_of({test::file("ok", "1")}), "sha256:" + std::string(64, 'd')});
  }
  auto r = w.store->import_archive(layout.path());
  REQUIRE_FALSE(r);
  CHECK(w.store->list().empty());
  // The first layer may be kept for reuse; the failed one is nowhere, nor any temp dir.
  for (auto& n : w.snapshots()) CHECK(n.size() == 64);
  CHECK(w.snapshots().size() <= 1);
  CHECK(fs::list_dir(w.root + "/ingest").value().empty());
  REQUIRE(w.store->garbage_collect({}));
}

TEST_CASE("an OCI layout whose ref name is only a tag, and a directory layout") {
  StoreWorld w;
  test::TempDir layout("layout");
  test::write_oci_layout(layout.path(), {{test::file("f", "1")}}, "latest");
  auto r = w.store->import_archive(layout.path());
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK(r->front().repo_tags.empty());
  REQUIRE(w.store->tag(r->front().id, "deckhand.test/tagged:v1"));
  CHECK(w.store->get("deckhand.test/tagged:v1").value().id == r->front().id);
}

TEST_CASE("a corrupt blob in an archive is rejected") {
  StoreWorld w;
  test::TempDir layout("layout");
  std::string m = test::write_oci_layout(layout.path(), {{test::file("f", "1")}}, "deckhand.test/c:1");
  REQUIRE(fs::write_file_atomic(layout.sub("blobs/sha256/" + m.substr(7)), "{}"));
  auto r = w.store->import_archive(layout.path());
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK_FALSE(w.store->content().has(m));
  CHECK(w.store->import_archive(w.t.sub("missing.tar")).error().kind == ErrorKind::NotFound);
}

TEST_CASE("concurrent imports of one image unpack it once") {
  StoreWorld w;
  std::string tar = fixture("busybox-oci.tar");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (w.store->import_archive(tar)) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  CHECK(w.store->list().size() == 1);
  CHECK(w.snapshots().size() == 1);
  CHECK(fs::list_dir(w.root + "/ingest").value().empty());
}

}  // namespace deckhand::images
