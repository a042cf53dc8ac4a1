// deckhandctl's commands, run through ctl::run() against the fake CRI server.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/ctl/cli.h"
#include "deckhand/ctl/commands.h"
#include "fake_cri_server.h"
#include "test_env.h"

using namespace deckhand;
using deckhand::test::FakeCriServer;
using deckhand::test::TempDir;
namespace rt = ::runtime::v1;
using namespace std::chrono_literals;

namespace {

struct Output {
  int code = -1;
  std::string out, err;
};

struct Ctl {
  TempDir dir{"deckhand-ctl"};
  FakeCriServer server{dir.sub("cri.sock")};

  Output run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--runtime-endpoint", server.endpoint()});
    std::ostringstream out, err;
    Output o;
    o.code = ctl::run(args, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir.sub(name);
    REQUIRE(fs::write_file_atomic(path, text));
    return path;
  }

  void set_container(const std::string& log_path, rt::ContainerState state) {
    std::lock_guard lock(server.state().mu);
    server.state().log_path = log_path;
    server.state().container_state = state;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

const char* kLog =
    "2024-01-01T00:00:00.000000001Z stdout F hello\n"
    "2024-01-01T00:00:00.000000002Z stderr F oops\n"
    "2024-01-01T00:00:00.000000003Z stdout P part1-\n"
    "2024-01-01T00:00:00.000000004Z stdout P part2-\n"
    "2024-01-01T00:00:00.000000005Z stdout F end\n"
    "2024-01-01T00:00:00.000000006Z stdout F last\n";

const char* kPodProtoNames = R"({
  "metadata": {"name": "nginx-sandbox", "namespace": "default", "uid": "hdishd83djaidwnduwk28bcsb", "attempt": 1},
  "log_directory": "/tmp",
  "dns_config": {"servers": ["10.0.0.1"]},
  "port_mappings": [{"container_port": 80, "host_port": 8080}],
  "labels": {"app": "nginx"},
  "linux": {"cgroup_parent": "/deckhand", "security_context": {"namespace_options": {"network": "NODE"}}}
})";

const char* kPodCamelNames = R"({
  "metadata": {"name": "nginx-sandbox", "namespace": "default", "uid": "hdishd83djaidwnduwk28bcsb", "attempt": 1},
  "logDirectory": "/tmp",
  "dnsConfig": {"servers": ["10.0.0.1"]},
  "portMappings": [{"containerPort": 80, "hostPort": 8080}],
  "labels": {"app": "nginx"},
  "linux": {"cgroupParent": "/deckhand", "securityContext": {"namespaceOptions": {"network": 2}}}
})";

const char* kContainer = R"({
  "metadata": {"name": "busybox"},
  "image": {"image": "busybox"},
  "command": ["top"],
  "envs": [{"key": "FOO", "value": "bar baz"}],
  "log_path": "busybox.0.log",
  "linux": {}
})";

void check_pod_config(const rt::PodSandboxConfig& c) {
  CHECK(c.metadata().name() == "nginx-sandbox");
  CHECK(c.metadata().namespace_() == "default");
  CHECK(c.metadata().uid() == "hdishd83djaidwnduwk28bcsb");
  CHECK(c.metadata().attempt() == 1);
  CHECK(c.log_directory() == "/tmp");
  CHECK(c.dns_config().servers(0) == "10.0.0.1");
  CHECK(c.port_mappings(0).host_port() == 8080);
  CHECK(c.labels().at("app") == "nginx");
  CHECK(c.linux().cgroup_parent() == "/deckhand");
  CHECK(c.linux().security_context().namespace_options().network() == rt::NODE);
}

}  // namespace

TEST_CASE_FIXTURE(Ctl, "version") {
  auto o = run({"version"});
  CHECK(o.code == 0);
  CHECK(o.out == "Version:  0.1.0\nRuntimeName:  fake-cri\nRuntimeVersion:  1.2.3\nRuntimeApiVersion:  v1\n");
}

TEST_CASE_FIXTURE(Ctl, "the endpoint comes from CONTAINER_RUNTIME_ENDPOINT without the flag") {
  ::setenv("CONTAINER_RUNTIME_ENDPOINT", server.endpoint().c_str(), 1);
  std::ostringstream out, err;
  int code = ctl::run({"version"}, out, err);
  ::unsetenv("CONTAINER_RUNTIME_ENDPOINT");
  CHECK(code == 0);
  CHECK(contains(out.str(), "fake-cri"));
}

TEST_CASE_FIXTURE(Ctl, "info prints status and info as JSON") {
  auto o = run({"info"});
  REQUIRE(o.code == 0);
  auto j = Json::parse(o.out);
  CHECK(j["status"]["conditions"][0]["type"] == "RuntimeReady");
  CHECK(j["config"]["sandboxImage"] == "pause");  // a JSON info value stays JSON
  CHECK(j["note"] == "plain text");
}

TEST_CASE_FIXTURE(Ctl, "pods table") {
  auto o = run({"pods"});
  REQUIRE(o.code == 0);
  auto l = lines(o.out);
  REQUIRE(l.size() == 3);
  CHECK(l[0].starts_with("POD ID              CREATED              STATE"));
  CHECK(contains(l[0], "NAME"));
  CHECK(contains(l[0], "NAMESPACE"));
  CHECK(l[0].ends_with("ATTEMPT             RUNTIME"));
  // Newest first; ids cut to 13; the columns line up under the header.
  CHECK(l[1].starts_with("a1b2c3d4e5f6a       About a minute ago   Ready"));
  CHECK(l[1].ends_with("(default)"));
  CHECK(l[1].find("web") == l[0].find("NAME"));
  CHECK(l[2].starts_with("f0e1d2c3b4a5f       2 hours ago          NotReady"));
  CHECK(l[2].ends_with("runc"));
  CHECK(!contains(o.out, "a1b2c3d4e5f6a7"));
}

TEST_CASE_FIXTURE(Ctl, "pods filters and quiet and verbose") {
  CHECK(run({"pods", "-q"}).out == std::string(test::kWebPodId) + "\n" + test::kDbPodId + "\n");
  CHECK(run({"pods", "-q", "--state", "NotReady"}).out == std::string(test::kDbPodId) + "\n");
  CHECK(run({"pods", "-q", "--name", "^we"}).out == std::string(test::kWebPodId) + "\n");
  CHECK(run({"pods", "-q", "--namespace=prod"}).out == std::string(test::kDbPodId) + "\n");
  auto bad = run({"pods", "--state", "sleepy"});
  CHECK(bad.code == 1);
  CHECK(contains(bad.err, "--state"));
  auto badre = run({"pods", "--name", "("});
  CHECK(badre.code == 1);
  CHECK(contains(badre.err, "regular expression"));
  auto v = run({"pods", "-v", "--name", "web"});
  CHECK(contains(v.out,
                 "ID: a1b2c3d4e5f6a7b8c9d0e1f2\nName: web\nUID: uid-web\nNamespace: default\nAttempt: 0\n"));
}

TEST_CASE_FIXTURE(Ctl, "ps table: running only unless -a") {
  auto o = run({"ps"});
  REQUIRE(o.code == 0);
  auto l = lines(o.out);
  REQUIRE(l.size() == 2);
  CHECK(l[0] ==
        "CONTAINER           IMAGE               CREATED             STATE               NAME                "
        "ATTEMPT             POD ID              POD");
  CHECK(l[1].starts_with(
      "c0ffee0011223       0123456789abc       5 seconds ago       Running             nginx"));
  CHECK(l[1].ends_with("a1b2c3d4e5f6a       web"));

  auto all = run({"ps", "-a"});
  auto la = lines(all.out);
  REQUIRE(la.size() == 3);
  CHECK(contains(la[2], "docker.io/library/busybox:latest"));
  CHECK(contains(la[2], "10 minutes ago"));
  CHECK(contains(la[2], "Exited"));
  CHECK(la[2].ends_with("db-pod"));  // kubelet's label wins over the sandbox name

  CHECK(run({"ps", "-aq"}).out == std::string(test::kNginxId) + "\n" + test::kJobId + "\n");
  CHECK(run({"ps", "-q", "--state", "exited"}).out == std::string(test::kJobId) + "\n");
}

TEST_CASE_FIXTURE(Ctl, "images table") {
  auto o = run({"images"});
  REQUIRE(o.code == 0);
  auto l = lines(o.out);
  REQUIRE(l.size() == 4);
  CHECK(l[0] == "IMAGE                       TAG                 IMAGE ID            SIZE");
  CHECK(l[1] == "docker.io/library/alpine    <none>              9999999999999       512B");
  CHECK(l[2] == "docker.io/library/busybox   latest              abcdef0123456       2.1MB");
  CHECK(l[3] == "localhost:5000/busybox      1.36                abcdef0123456       2.1MB");
  CHECK(run({"images", "-q"}).out ==
        std::string(test::kBusyboxId) + "\n" +
            "sha256:9999999999999999999999999999999999999999999999999999999999999999\n");
}

TEST_CASE_FIXTURE(Ctl, "inspect, inspectp and inspecti print JSON with the verbose info") {
  auto c = run({"inspect", "c0ffee"});
  REQUIRE(c.code == 0);
  auto j = Json::parse(c.out);
  CHECK(j["status"]["id"] == "c0ffee");
  CHECK(j["status"]["state"] == "CONTAINER_EXITED");
  CHECK(j["status"]["exitCode"] == 0);  // defaults are shown, as crictl does
  CHECK(j["info"]["pid"] == 4242);

  auto p = run({"inspectp", test::kWebPodId});
  REQUIRE(p.code == 0);
  CHECK(Json::parse(p.out)["status"]["metadata"]["name"] == "web");

  auto i = run({"inspecti", "busybox"});
  REQUIRE(i.code == 0);
  auto ij = Json::parse(i.out);
  CHECK(ij["status"]["repoTags"][0] == "docker.io/library/busybox:latest");
  CHECK(ij["info"]["chainID"] == "sha256:0");

  auto missing = run({"inspecti", "nope"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "deckhandctl: no such image nope\n");
}

TEST_CASE_FIXTURE(Ctl, "logs reads the CRI log file, joining partial lines") {
  set_container(write("ctr.log", kLog), rt::CONTAINER_EXITED);
  auto o = run({"logs", "c0ffee"});
  CHECK(o.code == 0);
  CHECK(o.out == "hello\npart1-part2-end\nlast\n");
  CHECK(o.err == "oops\n");

  auto tail = run({"logs", "--tail", "2", "c0ffee"});
  CHECK(tail.out == "part1-part2-end\nlast\n");
  CHECK(tail.err == "");
  CHECK(run({"logs", "--tail=1", "c0ffee"}).out == "last\n");
  CHECK(run({"logs", "--tail", "0", "c0ffee"}).out == "");

  auto ts = run({"logs", "-t", "--tail", "2", "c0ffee"});
  CHECK(ts.out == "2024-01-01T00:00:00.000000003Z part1-part2-end\n2024-01-01T00:00:00.000000006Z last\n");

  auto follow = run({"logs", "-f", "c0ffee"});  // exited: prints the file and returns
  CHECK(follow.code == 0);
  CHECK(follow.out == o.out);
}

TEST_CASE_FIXTURE(Ctl, "logs -f follows appended lines until the container exits") {
  std::string path = write("ctr.log", "2024-01-01T00:00:00Z stdout F first\n");
  set_container(path, rt::CONTAINER_RUNNING);
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    FILE* f = std::fopen(path.c_str(), "a");
    std::fputs("2024-01-01T00:00:01Z stdout F sec", f);  // a line written in two parts
    std::fflush(f);
    std::this_thread::sleep_for(300ms);
    std::fputs("ond\n2024-01-01T00:00:02Z stdout F third\n", f);
    std::fclose(f);
    std::this_thread::sleep_for(300ms);
    std::lock_guard lock(server.state().mu);
    server.state().container_state = rt::CONTAINER_EXITED;
  });
  auto o = run({"logs", "-f", "c0ffee"});
  writer.join();
  CHECK(o.code == 0);
  CHECK(o.out == "first\nsecond\nthird\n");
}

TEST_CASE_FIXTURE(Ctl, "logs of a missing container names it") {
  auto o = run({"logs", "missing"});
  CHECK(o.code == 1);
  CHECK(o.err == "deckhandctl: logs missing: ContainerStatus: NotFound: container missing not found\n");
}

TEST_CASE_FIXTURE(Ctl, "exec prints the output and exits with the command's code") {
  auto o = run({"exec", "-s", "c0ffee", "ls", "-l", "/"});
  CHECK(o.code == 3);
  CHECK(o.out == "ls -l /\n");
  CHECK(o.err == "to stderr\n");
  auto it = run({"exec", "-it", "c0ffee", "sh"});
  CHECK(it.code == 1);
  CHECK(contains(it.err, "does not implement"));
}

TEST_CASE_FIXTURE(Ctl, "lifecycle commands print ids and stop at the first error") {
  auto start = run({"start", "a", "b"});
  CHECK(start.out == "a\nb\n");
  auto stop = run({"stop", "-t", "10", "a"});
  CHECK(stop.out == "a\n");
  CHECK(server.state().last_stop_timeout == 10);

  auto missing = run({"stop", "missing", "b"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "deckhandctl: stop container missing: StopContainer: NotFound: container missing not found\n");

  // The fake says every container is exited, so rm needs no -f.
  CHECK(run({"rm", "x"}).out == "x\n");
  CHECK(run({"stopp", "p"}).out == "Stopped sandbox p\n");
  auto rmp = run({"rmp", test::kWebPodId});  // ready: needs -f
  CHECK(rmp.code == 1);
  CHECK(contains(rmp.err, "use -f"));
  CHECK(run({"rmp", "-f", test::kWebPodId}).code == 0);
  std::lock_guard lock(server.state().mu);
  auto& calls = server.state().calls;
  CHECK(std::find(calls.begin(), calls.end(), "RemoveContainer x") != calls.end());
  CHECK(std::find(calls.begin(), calls.end(), std::string("StopPodSandbox ") + test::kWebPodId) !=
        calls.end());
  CHECK(std::find(calls.begin(), calls.end(), std::string("RemovePodSandbox ") + test::kWebPodId) !=
        calls.end());
}

TEST_CASE_FIXTURE(Ctl, "runp reads crictl's JSON with either field name style") {
  for (const char* text : {kPodProtoNames, kPodCamelNames}) {
    std::string path = write("pod.json", text);
    auto config = ctl::read_pod_config(path);
    REQUIRE_MESSAGE(config, config.error().message);
    check_pod_config(*config);
    auto o = run({"runp", "--runtime", "runc", path});
    CHECK(o.code == 0);
    CHECK(o.out == "pod-nginx-sandbox\n");
    std::lock_guard lock(server.state().mu);
    check_pod_config(server.state().last_run_pod.config());
    CHECK(server.state().last_run_pod.runtime_handler() == "runc");
  }
}

TEST_CASE_FIXTURE(Ctl, "create sends both configs; env values are plain strings") {
  std::string pod = write("pod.json", kPodProtoNames);
  std::string ctr = write("ctr.json", kContainer);
  auto o = run({"create", "pod-1", ctr, pod});
  CHECK(o.code == 0);
  CHECK(o.out == "ctr-busybox\n");
  std::lock_guard lock(server.state().mu);
  const auto& req = server.state().last_create;
  CHECK(req.pod_sandbox_id() == "pod-1");
  CHECK(req.config().image().image() == "busybox");
  CHECK(req.config().command(0) == "top");
  CHECK(req.config().envs(0).key() == "FOO");
  CHECK(req.config().envs(0).value() == "bar baz");
  CHECK(req.config().log_path() == "busybox.0.log");
  check_pod_config(req.sandbox_config());
}

TEST_CASE_FIXTURE(Ctl, "bad config files give one clear error naming the file") {
  std::string broken = write("broken.json", "{\"metadata\": {\"name\": ");
  auto o = run({"runp", broken});
  CHECK(o.code == 1);
  CHECK(o.err.starts_with("deckhandctl: "));
  CHECK(contains(o.err, "pod config " + broken));
  CHECK(lines(o.err).size() == 1);

  std::string unknown = write("unknown.json", R"({"metadata": {"name": "x"}, "log_dir": "/tmp"})");
  auto u = ctl::read_pod_config(unknown);
  REQUIRE(!u);
  CHECK(u.error().kind == ErrorKind::InvalidArgument);
  CHECK(contains(u.error().message, unknown));
  CHECK(contains(u.error().message, "log_dir"));

  auto missing = ctl::read_container_config(dir.sub("nope.json"));
  REQUIRE(!missing);
  CHECK(contains(missing.error().message, "container config " + dir.sub("nope.json")));
}

TEST_CASE_FIXTURE(Ctl, "stats computes CPU % from two samples") {
  auto o = run({"stats", "--seconds", "0.01"});
  REQUIRE_MESSAGE(o.code == 0, o.err);
  auto l = lines(o.out);
  REQUIRE(l.size() == 2);
  CHECK(l[0] ==
        "CONTAINER           NAME                CPU %               MEM                 DISK                "
        "INODES");
  CHECK(l[1] ==
        "c0ffee0011223       nginx               50.00               2.1MB               4.1kB               "
        "12");
  CHECK(server.state().stats_calls == 2);

  auto p = run({"statsp", "-s", "10ms"});
  REQUIRE_MESSAGE(p.code == 0, p.err);
  CHECK(lines(p.out).at(1) == "web                 a1b2c3d4e5f6a       50.00               31.5MB");
}

TEST_CASE_FIXTURE(Ctl, "stats fails clearly when the CPU timestamp did not move") {
  server.state().freeze_stats = true;
  auto o = run({"stats", "--seconds", "0.01"});
  CHECK(o.code == 1);
  CHECK(contains(o.err, "container stats c0ffee0011223"));
  CHECK(contains(o.err, "did not move"));
}

TEST_CASE_FIXTURE(Ctl, "pull, rmi and import") {
  auto pull = run({"pull", "--creds", "user:secret", "busybox"});
  CHECK(pull.code == 0);
  CHECK(pull.out == std::string("Image is up to date for ") + test::kBusyboxId + "\n");
  {
    std::lock_guard lock(server.state().mu);
    CHECK(server.state().last_pull.auth().username() == "user");
    CHECK(server.state().last_pull.auth().password() == "secret");
  }
  CHECK(run({"pull", "--creds", "nopassword", "busybox"}).code == 1);

  auto rmi = run({"rmi", "busybox"});
  CHECK(rmi.out == "Deleted: docker.io/library/busybox:latest\nDeleted: localhost:5000/busybox:1.36\n");
  auto gone = run({"rmi", "alpine"});
  CHECK(gone.code == 1);
  CHECK(gone.err == "deckhandctl: remove image alpine: no such image alpine\n");

  std::string archive = write("image.tar", "not really");
  auto imp = run({"import", archive});
  CHECK(imp.code == 0);
  CHECK(imp.out == "Imported localhost/test:1 sha256:1111\n");
}

TEST_CASE("help, usage errors and connection errors") {
  std::ostringstream out, err;
  CHECK(ctl::run({"--help"}, out, err) == 0);
  CHECK(contains(out.str(), "Commands:"));
  CHECK(contains(out.str(), "YAML is not supported"));
  std::ostringstream pout, perr;
  CHECK(ctl::run({"pods", "--help"}, pout, perr) == 0);
  CHECK(contains(pout.str(), "--namespace REGEX"));
  std::ostringstream hout, herr;
  CHECK(ctl::run({"help", "logs"}, hout, herr) == 0);
  CHECK(contains(hout.str(), "--tail N"));

  std::ostringstream uout, uerr;
  CHECK(ctl::run({"frobnicate"}, uout, uerr) == 1);
  CHECK(contains(uerr.str(), "unknown command"));
  std::ostringstream aout, aerr;
  CHECK(ctl::run({"logs"}, aout, aerr) == 1);
  CHECK(contains(aerr.str(), "logs: expected ID"));
  std::ostringstream fout, ferr;
  CHECK(ctl::run({"ps", "--bogus"}, fout, ferr) == 1);
  CHECK(contains(ferr.str(), "unknown option --bogus"));

  TempDir dir("deckhand-ctl");
  std::ostringstream cout_, cerr_;
  std::string endpoint = "unix://" + dir.sub("none.sock");
  CHECK(ctl::run({"-r", endpoint, "version"}, cout_, cerr_) == 1);
  CHECK(cerr_.str().starts_with("deckhandctl: connect " + endpoint + ": "));
}
