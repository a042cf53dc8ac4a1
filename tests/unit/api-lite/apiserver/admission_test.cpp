// Defaults, validation and cluster IPs applied before objects are stored.
#include <doctest/doctest.h>

#include <set>

#include "access.h"
#include "admission.h"
#include "deckhand/common/fs.h"
#include "deckhand/store/sqlite_store.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::apiserver;

TEST_CASE("pod defaults follow Kubernetes' defaulting and DefaultTolerationSeconds") {
  Json pod = {{"metadata", {{"name", "p"}}},
              {"spec", {{"containers", {{{"name", "a"}, {"image", "busybox"}}, {{"name", "b"}, {"image", "busybox:1.36"}},
                                        {{"name", "c"}, {"image", "reg:5000/x:latest"}, {"ports", {{{"containerPort", 80}}}}}}}}}};
  apply_defaults(*find_resource("", "v1", "pods"), pod);
  const Json& s = pod["spec"];
  CHECK(s["restartPolicy"] == "Always");
  CHECK(s["dnsPolicy"] == "ClusterFirst");
  CHECK(s["terminationGracePeriodSeconds"] == 30);
  CHECK(s["schedulerName"] == "default-scheduler");
  CHECK(s["containers"][0]["imagePullPolicy"] == "Always");        // no tag
  CHECK(s["containers"][1]["imagePullPolicy"] == "IfNotPresent");  // a tag
  CHECK(s["containers"][2]["imagePullPolicy"] == "Always");        // :latest, with a registry port
  CHECK(s["containers"][2]["ports"][0]["protocol"] == "TCP");
  REQUIRE(s["tolerations"].size() == 2);
  CHECK(s["tolerations"][0]["tolerationSeconds"] == 300);
  // Defaulting twice changes nothing.
  Json again = pod;
  apply_defaults(*find_resource("", "v1", "pods"), again);
  CHECK(again == pod);
}

TEST_CASE("validation answers 422 with the causes") {
  Json pod = {{"metadata", {{"name", "Bad"}}}, {"spec", {{"containers", Json::array()}}}};
  auto r = validate(*find_resource("", "v1", "pods"), pod);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == 422);
  CHECK(r.error().status["reason"] == "Invalid");
  CHECK(r.error().status["details"]["causes"].size() >= 2);
  Json deploy = {{"metadata", {{"name", "d"}}}, {"spec", {{"replicas", -1}}}};
  auto d = validate(*find_resource("apps", "v1", "deployments"), deploy);
  REQUIRE_FALSE(d);
  CHECK(d.error().status["message"].get<std::string>().find("spec.selector: Required value") != std::string::npos);
}

TEST_CASE("cluster IPs: free ones in order, explicit ones checked, none twice, exhaustion reported") {
  auto a = ClusterIpAllocator::from_cidr("10.96.0.0/28");
  REQUIRE(a);
  CHECK_FALSE(ClusterIpAllocator::from_cidr("10.96.0.0"));
  CHECK_FALSE(ClusterIpAllocator::from_cidr("fd00::/64"));
  auto& ips = **a;
  std::set<std::string> got;
  for (int i = 0; i < 14; ++i) {
    auto ip = ips.allocate("");
    REQUIRE(ip);
    CHECK(got.insert(*ip).second);
  }
  CHECK_FALSE(got.count("10.96.0.0"));
  CHECK_FALSE(got.count("10.96.0.15"));
  CHECK_FALSE(ips.allocate(""));
  ips.release("10.96.0.5");
  CHECK(ips.allocate("10.96.0.5"));
  auto dup = ips.allocate("10.96.0.5");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().status["message"].get<std::string>().find("already allocated") != std::string::npos);
  CHECK_FALSE(ips.allocate("10.97.0.1"));
}

TEST_CASE("token file: users and groups; bad lines named") {
  test::TempDir dir("deckhand-tokens");
  REQUIRE(fs::write_file_atomic(dir.sub("ok.csv"), "# comment\nt1,alice,1,\"system:masters,ops\"\nt2,bob,2\n"));
  auto f = TokenFile::load(dir.sub("ok.csv"));
  REQUIRE(f);
  auto alice = f->find("t1");
  REQUIRE(alice);
  CHECK(alice->name == "alice");
  CHECK(alice->groups == std::vector<std::string>{"system:masters", "ops"});
  CHECK(f->find("t2")->groups.empty());
  CHECK_FALSE(f->find("t3"));
  REQUIRE(fs::write_file_atomic(dir.sub("bad.csv"), "t1,alice,1\nonlytoken\n"));
  auto bad = TokenFile::load(dir.sub("bad.csv"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("line 2") != std::string::npos);
}

TEST_CASE("a node may touch its own objects and pods bound to it, nothing else") {
  test::TempDir dir("deckhand-authz");
  auto db = store::open_sqlite_store({dir.sub("store.db")});
  REQUIRE(db);
  const auto* pods = find_resource("", "v1", "pods");
  Json mine = {{"metadata", {{"name", "a"}, {"namespace", "ns"}}},
               {"spec", {{"nodeName", "n1"}, {"volumes", {{{"name", "v"}, {"secret", {{"secretName", "s1"}}}}}}}}};
  Json theirs = {{"metadata", {{"name", "b"}, {"namespace", "ns"}}}, {"spec", {{"nodeName", "n2"}}}};
  REQUIRE((*db)->create(pods->key("ns", "a"), mine.dump()));
  auto rev = (*db)->create(pods->key("ns", "b"), theirs.dump());
  REQUIRE(rev);
  auto cache = WatchCache::start(**db);
  REQUIRE(cache);
  REQUIRE((*cache)->wait_for(*rev, std::chrono::seconds(5)));
  UserInfo node{"system:node:n1", {"system:nodes"}};
  auto can = [&](const std::string& verb, const std::string& plural, const std::string& ns, const std::string& name,
                 const std::string& sub = "") {
    const ResourceInfo* r = nullptr;
    for (const auto& info : all_resources())
      if (info.plural == plural) r = &info;
    REQUIRE(r);
    return !authorize(node, RequestAttributes{verb, r, sub, ns, name, "", nullptr}, **cache).has_value();
  };
  CHECK(can("list", "pods", "", ""));
  CHECK(can("update", "pods", "ns", "a", "status"));
  CHECK_FALSE(can("update", "pods", "ns", "b", "status"));
  CHECK(can("delete", "pods", "ns", "a"));
  CHECK_FALSE(can("delete", "pods", "ns", "b"));
  CHECK(can("update", "nodes", "", "n1"));
  CHECK_FALSE(can("update", "nodes", "", "n2"));
  CHECK(can("get", "secrets", "ns", "s1"));
  CHECK_FALSE(can("get", "secrets", "ns", "s2"));
  CHECK(can("update", "leases", "kube-node-lease", "n1"));
  CHECK_FALSE(can("update", "leases", "kube-node-lease", "n2"));
  CHECK_FALSE(can("create", "deployments", "ns", ""));
  UserInfo admin{"root", {"system:masters"}};
  CHECK_FALSE(authorize(admin, RequestAttributes{"create", find_resource("apps", "v1", "deployments"), "", "ns", "", "", nullptr},
                        **cache));
  UserInfo nobody{"eve", {"system:authenticated"}};
  CHECK(authorize(nobody, RequestAttributes{"get", pods, "", "ns", "a", "", nullptr}, **cache));
}
