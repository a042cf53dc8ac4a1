#include "pod_volumes.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "deckhand/common/base64.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::agent;
namespace v1 = ::runtime::v1;

namespace {

// ConfigMaps and Secrets by "<resource>/<ns>/<name>", served as the agent's getter would.
struct FakeApi {
  std::map<std::string, Json> objects;
  ObjectGetter getter() {
    return
        [this](const std::string& resource, const std::string& ns, const std::string& name) -> Result<Json> {
          auto it = objects.find(resource + "/" + ns + "/" + name);
          if (it == objects.end()) return fail(ErrorKind::NotFound, "{} {}/{} not found", resource, ns, name);
          return it->second;
        };
  }
  void config_map(const std::string& name, Json data, Json binary = nullptr) {
    Json obj = {{"metadata", {{"name", name}, {"namespace", "shop"}}}, {"data", std::move(data)}};
    if (!binary.is_null()) obj["binaryData"] = std::move(binary);
    objects["configmaps/shop/" + name] = std::move(obj);
  }
  void secret(const std::string& name, const std::map<std::string, std::string>& plain) {
    Json data = Json::object();
    for (const auto& [k, v] : plain) data[k] = base64_encode(v);
    objects["secrets/shop/" + name] = {{"metadata", {{"name", name}, {"namespace", "shop"}}}, {"data", data}};
  }
};

Json pod_with(Json volumes, Json containers = Json::array()) {
  return {{"metadata",
           {{"name", "web"},
            {"namespace", "shop"},
            {"uid", "u-123"},
            {"labels", {{"app", "web"}, {"tier", "front"}}},
            {"annotations", {{"note", "say \"hi\"\n\tbye\\"}, {"a.example/x", "é\u00a0\x01"}}}}},
          {"spec",
           {{"nodeName", "node-a"},
            {"serviceAccountName", "builder"},
            {"volumes", std::move(volumes)},
            {"containers", std::move(containers)}}},
          {"status", {{"podIP", "10.1.0.7"}, {"hostIP", "192.0.2.10"}}}};
}

std::string read(const std::string& path) {
  auto text = fs::read_file(path);
  REQUIRE_MESSAGE(text.has_value(), path);
  return *text;
}

std::string link_target(const std::string& path) {
  char buf[512];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Entries of a volume dir whose names start with ".." (data dirs and ..data).
std::vector<std::string> dot_entries(const std::string& dir) {
  std::vector<std::string> out;
  auto names = fs::list_dir(dir);
  REQUIRE(names);
  for (auto& name : *names)
    if (name.rfind("..", 0) == 0) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string real(const std::string& path) {
  char* p = ::realpath(path.c_str(), nullptr);
  REQUIRE(p != nullptr);
  std::string out(p);
  std::free(p);
  return out;
}

// The filesystem type and super options of the mount at path, "" when nothing is mounted there.
std::string mount_at(const std::string& path) {
  auto text = fs::read_file("/proc/self/mountinfo").value();
  for (auto line : split(text, '\n')) {
    auto fields = split(line, ' ');
    if (fields.size() < 10 || fields[4] != path) continue;
    for (size_t i = 5; i + 3 < fields.size(); ++i)
      if (fields[i] == "-") return std::string(fields[i + 1]) + " " + std::string(fields[i + 3]);
  }
  return "";
}

bool any_mount_under(const std::string& root) {
  auto text = fs::read_file("/proc/self/mountinfo").value();
  for (auto line : split(text, '\n')) {
    auto fields = split(line, ' ');
    if (fields.size() > 4 && fields[4].substr(0, root.size()) == root) return true;
  }
  return false;
}

bool is_root() { return ::geteuid() == 0; }

const std::string kCm = "/volumes/kubernetes.io~configmap/";

}  // namespace

TEST_CASE("pod_directory") {
  CHECK(pod_directory("/var/lib/deckhand", "u-1") == "/var/lib/deckhand/pods/u-1");
}

TEST_CASE("configMap: every key through ..data, text and binary, mode 0644") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a.conf", "alpha\n"}, {"b", "beta"}},
                 {{"bin", base64_encode(std::string("\0\xff", 2))}});
  auto pod = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  std::string dir = tmp.path() + kCm + "cfg";
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));

  CHECK(read(dir + "/a.conf") == "alpha\n");
  CHECK(read(dir + "/b") == "beta");
  CHECK(read(dir + "/bin") == std::string("\0\xff", 2));
  CHECK(link_target(dir + "/a.conf") == "..data/a.conf");
  std::string data_dir = link_target(dir + "/..data");
  CHECK(data_dir.rfind("..", 0) == 0);
  CHECK(mode_of(dir + "/" + data_dir) == 0755);
  CHECK(mode_of(dir + "/b") == 0644);
  CHECK(dot_entries(dir) == std::vector<std::string>{data_dir, "..data"});
}

TEST_CASE("configMap items: chosen keys at chosen paths, defaultMode and per-item modes") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  auto pod = pod_with(
      {{{"name", "cfg"},
        {"configMap",
         {{"name", "app"},
          {"defaultMode", 0600},
          {"items",
           {{{"key", "a"}, {"path", "conf/a.txt"}}, {{"key", "b"}, {"path", "b.txt"}, {"mode", 0400}}}}}}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string dir = tmp.path() + kCm + "cfg";
  CHECK(read(dir + "/conf/a.txt") == "1");
  CHECK(link_target(dir + "/conf") == "..data/conf");
  CHECK(mode_of(dir + "/conf/a.txt") == 0600);
  CHECK(mode_of(dir + "/b.txt") == 0400);
  CHECK(!fs::exists(dir + "/c"));
  CHECK(!fs::exists(dir + "/a"));
}

TEST_CASE("item paths that leave the volume or collide with ..data are refused, leaving nothing") {
  for (std::string bad : {"../x", "/etc/x", "a/../../x", "..data/x", "..x"}) {
    CAPTURE(bad);
    test::TempDir tmp;
    FakeApi api;
    api.config_map("app", {{"a", "1"}});
    auto pod = pod_with(
        {{{"name", "cfg"}, {"configMap", {{"name", "app"}, {"items", {{{"key", "a"}, {"path", bad}}}}}}}});
    auto r = set_up_pod_volumes(pod, tmp.path(), api.getter());
    REQUIRE(!r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
    CHECK(r.error().message.find("volume cfg") != std::string::npos);
    CHECK(!fs::exists(tmp.path() + kCm + "cfg"));
  }
}

TEST_CASE("a missing ConfigMap: optional gives an empty volume, required is an error naming it") {
  test::TempDir tmp;
  FakeApi api;
  auto optional = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "gone"}, {"optional", true}}}}});
  REQUIRE(set_up_pod_volumes(optional, tmp.path(), api.getter()));
  CHECK(fs::exists(tmp.path() + kCm + "cfg/..data"));
  CHECK(fs::list_dir(tmp.path() + kCm + "cfg").value().size() == 2);  // ..data and its dir

  auto required = pod_with({{{"name", "cfg2"}, {"configMap", {{"name", "gone"}}}}});
  auto r = set_up_pod_volumes(required, tmp.path(), api.getter());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::NotFound);
  CHECK(r.error().message.find("ConfigMap shop/gone") != std::string::npos);
  CHECK(r.error().message.find("volume cfg2") != std::string::npos);
  CHECK(!fs::exists(tmp.path() + kCm + "cfg2"));
}

TEST_CASE("a missing key: skipped when optional, an error naming the key otherwise") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}});
  Json items = {{{"key", "a"}, {"path", "a"}}, {{"key", "nope"}, {"path", "n"}}};
  auto optional =
      pod_with({{{"name", "o"}, {"configMap", {{"name", "app"}, {"optional", true}, {"items", items}}}}});
  REQUIRE(set_up_pod_volumes(optional, tmp.path(), api.getter()));
  CHECK(read(tmp.path() + kCm + "o/a") == "1");
  CHECK(!fs::exists(tmp.path() + kCm + "o/n"));

  auto required = pod_with({{{"name", "r"}, {"configMap", {{"name", "app"}, {"items", items}}}}});
  auto r = set_up_pod_volumes(required, tmp.path(), api.getter());
  REQUIRE(!r);
  CHECK(r.error().message.find("nope") != std::string::npos);
}

TEST_CASE("an update swaps ..data to a new dir, removed keys vanish, the old dir goes") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}, {"b", "2"}});
  auto pod = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  std::string dir = tmp.path() + kCm + "cfg";
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string first = link_target(dir + "/..data");

  api.config_map("app", {{"a", "one"}, {"c", "3"}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string second = link_target(dir + "/..data");
  CHECK(second != first);
  CHECK(read(dir + "/a") == "one");
  CHECK(read(dir + "/c") == "3");
  CHECK(!fs::exists(dir + "/b"));  // neither the symlink nor its target
  CHECK(!fs::exists(dir + "/" + first));
  CHECK(dot_entries(dir) == std::vector<std::string>{second, "..data"});
  auto names = fs::list_dir(dir).value();
  CHECK(names.size() == 4);  // a, c, ..data, the data dir
}

TEST_CASE("unchanged contents are not rewritten; a mode change is") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}});
  auto pod = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  std::string dir = tmp.path() + kCm + "cfg";
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string data_dir = link_target(dir + "/..data");
  struct stat before {};
  REQUIRE(::lstat((dir + "/" + data_dir + "/a").c_str(), &before) == 0);

  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  CHECK(link_target(dir + "/..data") == data_dir);
  struct stat after {};
  REQUIRE(::lstat((dir + "/" + data_dir + "/a").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

  pod["spec"]["volumes"][0]["configMap"]["defaultMode"] = 0440;
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  CHECK(link_target(dir + "/..data") != data_dir);
  CHECK(mode_of(dir + "/a") == 0440);
}

TEST_CASE("a ConfigMap gone after the volume was made keeps the old contents and reports the error") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}});
  auto pod = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  api.objects.clear();
  CHECK(!set_up_pod_volumes(pod, tmp.path(), api.getter()));
  CHECK(read(tmp.path() + kCm + "cfg/a") == "1");
}

TEST_CASE("secret: base64 data decoded, on a tmpfs of its own, gone after tear_down") {
  if (!is_root()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  test::TempDir tmp;
  FakeApi api;
  api.secret("creds", {{"password", "s3cr3t"}, {"token", std::string("\0bin", 4)}});
  auto pod = pod_with({{{"name", "sec"}, {"secret", {{"secretName", "creds"}, {"defaultMode", 0400}}}}});
  std::string pod_dir = tmp.sub("pod");
  REQUIRE(set_up_pod_volumes(pod, pod_dir, api.getter()));
  std::string dir = pod_dir + "/volumes/kubernetes.io~secret/sec";
  CHECK(read(dir + "/password") == "s3cr3t");
  CHECK(read(dir + "/token") == std::string("\0bin", 4));
  CHECK(mode_of(dir + "/password") == 0400);
  CHECK(mode_of(dir) == 0755);
  std::string mounted = mount_at(real(dir));
  CHECK(mounted.rfind("tmpfs ", 0) == 0);

  // A second sync neither mounts again nor rewrites.
  std::string data_dir = link_target(dir + "/..data");
  REQUIRE(set_up_pod_volumes(pod, pod_dir, api.getter()));
  CHECK(link_target(dir + "/..data") == data_dir);
  std::string real_pod = real(pod_dir);
  auto text = fs::read_file("/proc/self/mountinfo").value();
  CHECK(std::count(text.begin(), text.end(), '\n') > 0);
  size_t mounts_here = 0;
  for (auto line : split(text, '\n'))
    if (line.find(" " + real(dir) + " ") != std::string_view::npos) ++mounts_here;
  CHECK(mounts_here == 1);

  REQUIRE(tear_down_pod_volumes(pod_dir));
  CHECK(!any_mount_under(real_pod));
  CHECK(!fs::exists(pod_dir));
}

TEST_CASE("a missing Secret that is required leaves no tmpfs and no dir behind") {
  test::TempDir tmp;
  FakeApi api;
  auto pod = pod_with({{{"name", "sec"}, {"secret", {{"secretName", "nope"}}}}});
  auto r = set_up_pod_volumes(pod, tmp.path(), api.getter());
  REQUIRE(!r);
  CHECK(r.error().message.find("Secret shop/nope") != std::string::npos);
  CHECK(!fs::exists(tmp.path() + "/volumes/kubernetes.io~secret/sec"));
  CHECK(!any_mount_under(real(tmp.path())));
}

// Items "a" (a file) and "a/b" (a file in a directory "a") pass every check
// but cannot both be written: a failure after the volume dir (and tmpfs) is made.
Json clashing_items() { return {{{"key", "k1"}, {"path", "a"}}, {{"key", "k2"}, {"path", "a/b"}}}; }

TEST_CASE("a write that fails removes the new volume dir and unmounts its tmpfs") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"k1", "1"}, {"k2", "2"}});
  api.secret("creds", {{"k1", "1"}, {"k2", "2"}});
  auto cm = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}, {"items", clashing_items()}}}}});
  auto r = set_up_pod_volumes(cm, tmp.path(), api.getter());
  REQUIRE(!r);
  CHECK(r.error().message.find("volume cfg") != std::string::npos);
  CHECK(!fs::exists(tmp.path() + kCm + "cfg"));

  if (!is_root()) {
    MESSAGE("skipped the secret case: mounting a tmpfs needs root");
    return;
  }
  auto sec =
      pod_with({{{"name", "sec"}, {"secret", {{"secretName", "creds"}, {"items", clashing_items()}}}}});
  CHECK(!set_up_pod_volumes(sec, tmp.path(), api.getter()));
  CHECK(!fs::exists(tmp.path() + "/volumes/kubernetes.io~secret/sec"));
  CHECK(!any_mount_under(real(tmp.path())));
}

TEST_CASE("a write that fails on an existing volume keeps its contents and leaves no new data dir") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"k1", "1"}, {"k2", "2"}});
  auto pod = pod_with({{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string dir = tmp.path() + kCm + "cfg";
  auto before = dot_entries(dir);

  pod["spec"]["volumes"][0]["configMap"]["items"] = clashing_items();
  CHECK(!set_up_pod_volumes(pod, tmp.path(), api.getter()));
  CHECK(dot_entries(dir) == before);
  CHECK(read(dir + "/k1") == "1");
  CHECK(read(dir + "/k2") == "2");
}

TEST_CASE("emptyDir on disk is a 0777 directory; Memory is a tmpfs with its sizeLimit") {
  test::TempDir tmp;
  std::string pod_dir = tmp.sub("pod");
  auto disk = pod_with({{{"name", "scratch"}, {"emptyDir", Json::object()}}});
  REQUIRE(set_up_pod_volumes(disk, pod_dir, FakeApi().getter()));
  std::string disk_dir = pod_dir + "/volumes/kubernetes.io~empty-dir/scratch";
  CHECK(mode_of(disk_dir) == 0777);
  CHECK(mount_at(real(disk_dir)).empty());

  if (!is_root()) {
    MESSAGE("skipped the Memory emptyDir: mounting a tmpfs needs root");
    return;
  }
  auto memory = pod_with({{{"name", "scratch"}, {"emptyDir", Json::object()}},
                          {{"name", "ram"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "2Mi"}}}}});
  REQUIRE(set_up_pod_volumes(memory, pod_dir, FakeApi().getter()));
  std::string ram = real(pod_dir + "/volumes/kubernetes.io~empty-dir/ram");
  std::string mounted = mount_at(ram);
  CHECK(mounted.rfind("tmpfs ", 0) == 0);
  CHECK(mounted.find("size=2048k") != std::string::npos);
  CHECK(mode_of(ram) == 0777);
  REQUIRE(fs::write_file_atomic(ram + "/f", "x"));
  REQUIRE(set_up_pod_volumes(memory, pod_dir, FakeApi().getter()));  // again: still one mount, file kept
  CHECK(read(ram + "/f") == "x");

  std::string real_pod = real(pod_dir);
  REQUIRE(tear_down_pod_volumes(pod_dir));
  CHECK(!any_mount_under(real_pod));
  CHECK(!fs::exists(pod_dir));
}

TEST_CASE("downwardAPI: fields, label and annotation maps quoted like Go, resources with divisors") {
  test::TempDir tmp;
  Json container = {
      {"name", "app"},
      {"image", "busybox"},
      {"resources", {{"limits", {{"cpu", "250m"}, {"memory", "64Mi"}}}, {"requests", {{"memory", "32Mi"}}}}}};
  auto item = [](const std::string& path, const std::string& field) {
    return Json{{"path", path}, {"fieldRef", {{"fieldPath", field}}}};
  };
  auto res = [](const std::string& path, const std::string& resource, Json divisor) {
    Json ref = {{"containerName", "app"}, {"resource", resource}};
    if (!divisor.is_null()) ref["divisor"] = divisor;
    return Json{{"path", path}, {"resourceFieldRef", ref}};
  };
  Json items = {item("name", "metadata.name"),
                item("ns", "metadata.namespace"),
                item("uid", "metadata.uid"),
                item("labels", "metadata.labels"),
                item("annotations", "metadata.annotations"),
                item("app", "metadata.labels['app']"),
                item("nolabel", "metadata.labels['missing']"),
                item("note", "metadata.annotations['note']"),
                item("node", "spec.nodeName"),
                item("sa", "spec.serviceAccountName"),
                item("ip/pod", "status.podIP"),
                item("ip/host", "status.hostIP"),
                res("cpu_limit", "limits.cpu", nullptr),
                res("cpu_limit_m", "limits.cpu", "1m"),
                res("cpu_request", "requests.cpu", nullptr),
                res("mem_limit", "limits.memory", "1Mi"),
                res("mem_request", "requests.memory", nullptr)};
  auto pod = pod_with({{{"name", "info"}, {"downwardAPI", {{"items", items}}}}}, Json::array({container}));
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), FakeApi().getter()));
  std::string dir = tmp.path() + "/volumes/kubernetes.io~downward-api/info/";
  CHECK(read(dir + "name") == "web");
  CHECK(read(dir + "ns") == "shop");
  CHECK(read(dir + "uid") == "u-123");
  CHECK(read(dir + "labels") == "app=\"web\"\ntier=\"front\"");
  CHECK(read(dir + "annotations") ==
        "a.example/x=\"\xc3\xa9\\u00a0\\x01\"\nnote=\"say \\\"hi\\\"\\n\\tbye\\\\\"");
  CHECK(read(dir + "app") == "web");
  CHECK(read(dir + "nolabel") == "");
  CHECK(read(dir + "note") == "say \"hi\"\n\tbye\\");
  CHECK(read(dir + "node") == "node-a");
  CHECK(read(dir + "sa") == "builder");
  CHECK(read(dir + "ip/pod") == "10.1.0.7");
  CHECK(read(dir + "ip/host") == "192.0.2.10");
  CHECK(read(dir + "cpu_limit") == "1");  // 250m rounded up to whole cores
  CHECK(read(dir + "cpu_limit_m") == "250");
  CHECK(read(dir + "cpu_request") == "1");  // no request: the limit
  CHECK(read(dir + "mem_limit") == "64");
  CHECK(read(dir + "mem_request") == std::to_string(32 * 1024 * 1024));

  auto bad = pod_with({{{"name", "info"}, {"downwardAPI", {{"items", {item("x", "metadata.generation")}}}}}});
  auto r = set_up_pod_volumes(bad, tmp.sub("other"), FakeApi().getter());
  REQUIRE(!r);
  CHECK(r.error().message.find("metadata.generation") != std::string::npos);
}

TEST_CASE("projected: configMap, secret and downwardAPI sources in one volume") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a", "1"}});
  api.secret("creds", {{"pw", "x"}});
  Json sources = {
      {{"configMap", {{"name", "app"}}}},
      {{"secret", {{"name", "creds"}, {"items", {{{"key", "pw"}, {"path", "s/pw"}, {"mode", 0400}}}}}}},
      {{"downwardAPI", {{"items", {{{"path", "name"}, {"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}}}};
  auto pod = pod_with({{{"name", "all"}, {"projected", {{"sources", sources}, {"defaultMode", 0640}}}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  std::string dir = tmp.path() + "/volumes/kubernetes.io~projected/all/";
  CHECK(read(dir + "a") == "1");
  CHECK(mode_of(dir + "a") == 0640);
  CHECK(read(dir + "s/pw") == "x");
  CHECK(mode_of(dir + "s/pw") == 0400);
  CHECK(read(dir + "name") == "web");
}

TEST_CASE("projected serviceAccountToken and unsupported volume types are errors naming them") {
  test::TempDir tmp;
  Json sources = {{{"serviceAccountToken", {{"path", "token"}}}}};
  auto pod = pod_with({{{"name", "tok"}, {"projected", {{"sources", sources}}}}});
  auto r = set_up_pod_volumes(pod, tmp.path(), FakeApi().getter());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Unimplemented);
  CHECK(r.error().message.find("serviceAccountToken") != std::string::npos);
  CHECK(r.error().message.find("volume tok") != std::string::npos);
  CHECK(!fs::exists(tmp.path() + "/volumes/kubernetes.io~projected/tok"));

  auto pvc = pod_with({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "c"}}}}});
  r = set_up_pod_volumes(pvc, tmp.path(), FakeApi().getter());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Unimplemented);
  CHECK(r.error().message.find("data") != std::string::npos);
  CHECK(r.error().message.find("persistentVolumeClaim") != std::string::npos);
}

TEST_CASE("hostPath: types create or check the host path; no directory under the pod") {
  test::TempDir tmp;
  std::string pod_dir = tmp.sub("pod");
  auto host = [&](const std::string& path, const std::string& type) {
    return pod_with({{{"name", "h"}, {"hostPath", {{"path", path}, {"type", type}}}}});
  };
  REQUIRE(set_up_pod_volumes(host(tmp.sub("made/dir"), "DirectoryOrCreate"), pod_dir, FakeApi().getter()));
  struct stat st {};
  REQUIRE(::stat(tmp.sub("made/dir").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  REQUIRE(set_up_pod_volumes(host(tmp.sub("file"), "FileOrCreate"), pod_dir, FakeApi().getter()));
  REQUIRE(::stat(tmp.sub("file").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(set_up_pod_volumes(host(tmp.sub("made/dir"), "Directory"), pod_dir, FakeApi().getter()));
  CHECK(set_up_pod_volumes(host(tmp.sub("nothing"), ""), pod_dir, FakeApi().getter()));

  auto r = set_up_pod_volumes(host(tmp.sub("absent"), "Directory"), pod_dir, FakeApi().getter());
  REQUIRE(!r);
  CHECK(r.error().message.find(tmp.sub("absent")) != std::string::npos);
  CHECK(!set_up_pod_volumes(host(tmp.sub("made/dir"), "File"), pod_dir, FakeApi().getter()));
  CHECK(!set_up_pod_volumes(host(tmp.sub("file"), "Socket"), pod_dir, FakeApi().getter()));
  CHECK(!fs::exists(pod_dir + "/volumes/kubernetes.io~host-path"));

  auto pod = host(tmp.sub("made"), "Directory");
  Json container = {{"name", "c"},
                    {"volumeMounts", {{{"name", "h"}, {"mountPath", "/host"}, {"subPath", "dir"}}}}};
  auto mounts = container_mounts(pod, container, pod_dir);
  REQUIRE(mounts);
  REQUIRE(mounts->size() == 1);
  CHECK((*mounts)[0].host_path() == tmp.sub("made/dir"));
}

TEST_CASE("container_mounts: paths, readOnly, propagation, subPath made for emptyDir") {
  test::TempDir tmp;
  FakeApi api;
  api.config_map("app", {{"a.conf", "1"}});
  auto pod = pod_with({{{"name", "scratch"}, {"emptyDir", Json::object()}},
                       {{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), api.getter()));
  Json container = {
      {"name", "c"},
      {"volumeMounts",
       {{{"name", "scratch"}, {"mountPath", "/tmp/s"}},
        {{"name", "scratch"},
         {"mountPath", "/ro"},
         {"readOnly", true},
         {"mountPropagation", "HostToContainer"}},
        {{"name", "scratch"}, {"mountPath", "/sub"}, {"subPath", "x/y"}},
        {{"name", "cfg"}, {"mountPath", "/etc/app"}},
        {{"name", "cfg"}, {"mountPath", "/etc/a.conf"}, {"subPath", "a.conf"}, {"readOnly", false}}}}};
  auto mounts = container_mounts(pod, container, tmp.path());
  REQUIRE(mounts);
  REQUIRE(mounts->size() == 5);
  std::string scratch = tmp.path() + "/volumes/kubernetes.io~empty-dir/scratch";
  const v1::Mount& plain = (*mounts)[0];
  CHECK(plain.container_path() == "/tmp/s");
  CHECK(plain.host_path() == scratch);
  CHECK(!plain.readonly());
  CHECK(plain.propagation() == v1::PROPAGATION_PRIVATE);
  CHECK(!plain.selinux_relabel());
  CHECK((*mounts)[1].readonly());
  CHECK((*mounts)[1].propagation() == v1::PROPAGATION_HOST_TO_CONTAINER);
  CHECK((*mounts)[2].host_path() == scratch + "/x/y");
  CHECK(mode_of(scratch + "/x/y") == 0777);
  CHECK((*mounts)[3].host_path() == tmp.path() + kCm + "cfg");
  CHECK((*mounts)[3].readonly());  // kubelet's own contents are always read-only
  CHECK((*mounts)[4].host_path() == tmp.path() + kCm + "cfg/a.conf");
  CHECK((*mounts)[4].readonly());
}

TEST_CASE("container_mounts refuses unknown volumes, escaping subPaths and unprivileged Bidirectional") {
  test::TempDir tmp;
  test::TempDir outside;
  auto pod = pod_with({{{"name", "scratch"}, {"emptyDir", Json::object()}}});
  REQUIRE(set_up_pod_volumes(pod, tmp.path(), FakeApi().getter()));
  std::string scratch = tmp.path() + "/volumes/kubernetes.io~empty-dir/scratch";
  REQUIRE(::symlink(outside.path().c_str(), (scratch + "/evil").c_str()) == 0);

  auto one = [&](Json mount) {
    return container_mounts(pod, Json{{"name", "c"}, {"volumeMounts", {mount}}}, tmp.path());
  };
  auto unknown = one({{"name", "nope"}, {"mountPath", "/x"}});
  REQUIRE(!unknown);
  CHECK(unknown.error().message.find("nope") != std::string::npos);
  CHECK(unknown.error().message.find("/x") != std::string::npos);
  for (std::string bad : {"../x", "/abs", "a/../../b", "evil", "evil/deeper"}) {
    CAPTURE(bad);
    auto r = one({{"name", "scratch"}, {"mountPath", "/x"}, {"subPath", bad}});
    REQUIRE(!r);
    CHECK(r.error().message.find("subPath") != std::string::npos);
  }
  CHECK(!fs::exists(outside.sub("deeper")));
  auto bidi = one({{"name", "scratch"}, {"mountPath", "/x"}, {"mountPropagation", "Bidirectional"}});
  CHECK(!bidi);
  auto privileged = container_mounts(
      pod,
      Json{{"name", "c"},
           {"securityContext", {{"privileged", true}}},
           {"volumeMounts",
            {{{"name", "scratch"}, {"mountPath", "/x"}, {"mountPropagation", "Bidirectional"}}}}},
      tmp.path());
  REQUIRE(privileged);
  CHECK((*privileged)[0].propagation() == v1::PROPAGATION_BIDIRECTIONAL);
}

TEST_CASE("tear_down does not follow symlinks out of the pod directory; a missing one is fine") {
  test::TempDir tmp;
  test::TempDir outside;
  REQUIRE(fs::make_dirs(outside.sub("keep")));
  REQUIRE(fs::write_file_atomic(outside.sub("keep/precious"), "data"));
  FakeApi api;
  api.config_map("app", {{"a", "1"}});
  std::string pod_dir = tmp.sub("pod");
  auto pod = pod_with({{{"name", "scratch"}, {"emptyDir", Json::object()}},
                       {{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
  REQUIRE(set_up_pod_volumes(pod, pod_dir, api.getter()));
  std::string scratch = pod_dir + "/volumes/kubernetes.io~empty-dir/scratch";
  REQUIRE(::symlink(outside.sub("keep").c_str(), (scratch + "/link").c_str()) == 0);
  REQUIRE(::symlink(outside.sub("keep/precious").c_str(), (scratch + "/file-link").c_str()) == 0);

  REQUIRE(tear_down_pod_volumes(pod_dir));
  CHECK(!fs::exists(pod_dir));
  CHECK(read(outside.sub("keep/precious")) == "data");
  CHECK(tear_down_pod_volumes(pod_dir));
}

TEST_CASE("tear_down unmounts mounts stacked and nested under the pod directory") {
  if (!is_root()) {
    MESSAGE("skipped: mounting needs root");
    return;
  }
  test::TempDir tmp;
  std::string pod_dir = tmp.sub("pod");
  auto pod = pod_with({{{"name", "ram"}, {"emptyDir", {{"medium", "Memory"}}}}});
  REQUIRE(set_up_pod_volumes(pod, pod_dir, FakeApi().getter()));
  std::string ram = pod_dir + "/volumes/kubernetes.io~empty-dir/ram";
  // A second tmpfs on the same dir and one nested inside it.
  REQUIRE(::mount("tmpfs", ram.c_str(), "tmpfs", 0, "size=1m") == 0);
  REQUIRE(fs::make_dirs(ram + "/inner"));
  REQUIRE(::mount("tmpfs", (ram + "/inner").c_str(), "tmpfs", 0, "size=1m") == 0);
  std::string real_pod = real(pod_dir);
  REQUIRE(tear_down_pod_volumes(pod_dir));
  CHECK(!any_mount_under(real_pod));
  CHECK(!fs::exists(pod_dir));
}
