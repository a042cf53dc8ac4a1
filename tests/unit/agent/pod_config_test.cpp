#include "pod_config.h"

#include <doctest/doctest.h>

using namespace deckhand;
using namespace deckhand::agent;
namespace v1 = ::runtime::v1;

namespace {

Json pod_json(Json spec) {
  return {{"metadata",
           {{"name", "web"},
            {"namespace", "shop"},
            {"uid", "u-123"},
            {"labels", {{"app", "web"}}},
            {"annotations", {{"note", "x"}}}}},
          {"spec", spec}};
}

Json busybox(const std::string& name) { return {{"name", name}, {"image", "busybox:1.36"}}; }

ContainerInputs inputs(uint32_t restart_count = 0, std::string pod_ip = "") {
  ContainerInputs in;
  in.restart_count = restart_count;
  in.pod_ip = std::move(pod_ip);
  return in;
}

PodSettings settings() {
  PodSettings s;
  s.node_name = "node-a";
  s.host_name = "host-a";
  s.host_ip = "192.0.2.10";
  s.pod_log_dir = "/var/log/pods";
  s.cgroup_root = "/deckhand-pods";
  s.cluster_dns = {"10.96.0.10"};
  s.cluster_domain = "cluster.local";
  s.host_dns = parse_resolv_conf("# host\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n");
  return s;
}

std::vector<std::string> list(const google::protobuf::RepeatedPtrField<std::string>& f) {
  return {f.begin(), f.end()};
}

}  // namespace

TEST_CASE("resolv.conf lines") {
  auto r = parse_resolv_conf(
      "nameserver 1.1.1.1\nnameserver\t2.2.2.2 # two\ndomain a.example\nsearch b.example c.example\n"
      "options ndots:2 rotate\n; comment\n");
  CHECK(r.servers == std::vector<std::string>{"1.1.1.1", "2.2.2.2"});
  CHECK(r.searches == std::vector<std::string>{"b.example", "c.example"});
  CHECK(r.options == std::vector<std::string>{"ndots:2", "rotate"});
  CHECK(parse_resolv_conf("").servers.empty());
}

TEST_CASE("DNS by dnsPolicy") {
  auto s = settings();
  SUBCASE("ClusterFirst with cluster DNS: the cluster's server and search path, ndots:5") {
    auto dns = pod_dns_config(pod_json({{"containers", {busybox("a")}}}), s);
    REQUIRE(dns);
    CHECK(list(dns->servers()) == std::vector<std::string>{"10.96.0.10"});
    CHECK(list(dns->searches()) == std::vector<std::string>{"shop.svc.cluster.local", "svc.cluster.local",
                                                            "cluster.local", "corp.example"});
    CHECK(list(dns->options()) == std::vector<std::string>{"ndots:5"});
  }
  SUBCASE("ClusterFirst without cluster DNS, and Default: the host's") {
    auto no_cluster = s;
    no_cluster.cluster_dns.clear();
    auto dns = pod_dns_config(pod_json({{"containers", {busybox("a")}}}), no_cluster);
    REQUIRE(dns);
    CHECK(list(dns->servers()) == std::vector<std::string>{"192.0.2.53"});
    auto def = pod_dns_config(pod_json({{"dnsPolicy", "Default"}, {"containers", {busybox("a")}}}), s);
    REQUIRE(def);
    CHECK(list(def->servers()) == std::vector<std::string>{"192.0.2.53"});
    CHECK(list(def->searches()) == std::vector<std::string>{"corp.example"});
    CHECK(list(def->options()) == std::vector<std::string>{"edns0"});
  }
  SUBCASE("hostNetwork: ClusterFirst means the host's, ClusterFirstWithHostNet the cluster's") {
    auto host = pod_dns_config(pod_json({{"hostNetwork", true}, {"containers", {busybox("a")}}}), s);
    CHECK(list(host->servers()) == std::vector<std::string>{"192.0.2.53"});
    auto cluster = pod_dns_config(pod_json({{"hostNetwork", true},
                                            {"dnsPolicy", "ClusterFirstWithHostNet"},
                                            {"containers", {busybox("a")}}}),
                                  s);
    CHECK(list(cluster->servers()) == std::vector<std::string>{"10.96.0.10"});
  }
  SUBCASE("None: only spec.dnsConfig; dnsConfig merges into the others") {
    Json custom = {{"nameservers", {"203.0.113.1"}},
                   {"searches", {"x.example"}},
                   {"options", {{{"name", "ndots"}, {"value", "2"}}, {{"name", "single-request"}}}}};
    auto none = pod_dns_config(
        pod_json({{"dnsPolicy", "None"}, {"dnsConfig", custom}, {"containers", {busybox("a")}}}), s);
    REQUIRE(none);
    CHECK(list(none->servers()) == std::vector<std::string>{"203.0.113.1"});
    CHECK(list(none->searches()) == std::vector<std::string>{"x.example"});
    CHECK(list(none->options()) == std::vector<std::string>{"ndots:2", "single-request"});
    auto merged = pod_dns_config(pod_json({{"dnsConfig", custom}, {"containers", {busybox("a")}}}), s);
    REQUIRE(merged);
    CHECK(list(merged->servers()) == std::vector<std::string>{"10.96.0.10", "203.0.113.1"});
    CHECK(list(merged->options()) == std::vector<std::string>{"ndots:2", "single-request"});
    auto empty = pod_dns_config(pod_json({{"dnsPolicy", "None"}, {"containers", {busybox("a")}}}), s);
    CHECK(empty->servers_size() == 0);
  }
}

TEST_CASE("the sandbox config: metadata, hostname, logs, cgroup by QoS, ports, namespaces, labels") {
  auto s = settings();
  Json web = busybox("web");
  web["ports"] = {{{"containerPort", 80}, {"hostPort", 8080}},
                  {{"containerPort", 53}, {"protocol", "UDP"}, {"hostPort", 5353}, {"hostIP", "127.0.0.1"}},
                  {{"containerPort", 9090}}};
  auto c = make_sandbox_config(pod_json({{"containers", {web}}, {"hostPID", true}}), s, 2);
  REQUIRE(c);
  CHECK(c->metadata().name() == "web");
  CHECK(c->metadata().namespace_() == "shop");
  CHECK(c->metadata().uid() == "u-123");
  CHECK(c->metadata().attempt() == 2);
  CHECK(c->hostname() == "web");
  CHECK(c->log_directory() == "/var/log/pods/shop_web_u-123");
  CHECK(c->linux().cgroup_parent() == "/deckhand-pods/besteffort/podu-123");
  REQUIRE(c->port_mappings_size() == 2);
  CHECK(c->port_mappings(0).container_port() == 80);
  CHECK(c->port_mappings(0).host_port() == 8080);
  CHECK(c->port_mappings(0).protocol() == v1::TCP);
  CHECK(c->port_mappings(1).protocol() == v1::UDP);
  CHECK(c->port_mappings(1).host_ip() == "127.0.0.1");
  auto& ns = c->linux().security_context().namespace_options();
  CHECK(ns.network() == v1::POD);
  CHECK(ns.pid() == v1::NODE);
  CHECK(ns.ipc() == v1::POD);
  CHECK(c->labels().at("app") == "web");
  CHECK(c->labels().at(kPodNameLabel) == "web");
  CHECK(c->labels().at(kPodNamespaceLabel) == "shop");
  CHECK(c->labels().at(kPodUidLabel) == "u-123");
  CHECK(c->annotations().at("note") == "x");

  auto named = make_sandbox_config(pod_json({{"hostname", "h1"}, {"containers", {web}}}), s, 0);
  CHECK(named->hostname() == "h1");
  auto host = make_sandbox_config(pod_json({{"hostNetwork", true}, {"containers", {web}}}), s, 0);
  CHECK(host->hostname() == "host-a");
  CHECK(host->linux().security_context().namespace_options().network() == v1::NODE);
  auto nameless = make_sandbox_config(Json{{"spec", {{"containers", {web}}}}}, s, 0);
  CHECK(!nameless);
}

TEST_CASE("QoS classes and quantities") {
  Json guaranteed = busybox("g");
  guaranteed["resources"] = {{"limits", {{"cpu", "500m"}, {"memory", "64Mi"}}}};
  Json burstable = busybox("b");
  burstable["resources"] = {{"requests", {{"cpu", "100m"}}}};
  CHECK(qos_class(pod_json({{"containers", {busybox("a")}}})) == "BestEffort");
  CHECK(qos_class(pod_json({{"containers", {guaranteed}}})) == "Guaranteed");
  CHECK(qos_class(pod_json({{"containers", {guaranteed, burstable}}})) == "Burstable");
  CHECK(pod_cgroup_parent(pod_json({{"containers", {guaranteed}}}), "/r") == "/r/podu-123");
  CHECK(pod_cgroup_parent(pod_json({{"containers", {burstable}}}), "/r") == "/r/burstable/podu-123");

  CHECK(cpu_millis("250m") == 250);
  CHECK(cpu_millis("1") == 1000);
  CHECK(cpu_millis("0.5") == 500);
  CHECK(cpu_millis(2) == 2000);
  CHECK(quantity_bytes("128Mi") == 128LL * 1024 * 1024);
  CHECK(quantity_bytes("1G") == 1000000000LL);
  CHECK(quantity_bytes("1e3") == 1000);
  CHECK(quantity_bytes("1.5Ki") == 1536);
  CHECK(!quantity_bytes("lots"));
  CHECK(!quantity_bytes("12Q"));
  CHECK(!cpu_millis("-1"));
}

TEST_CASE("the container config: command, env with fieldRefs and $(VAR), resources, log path, labels") {
  auto s = settings();
  Json c = busybox("app");
  c["command"] = {"sh", "-c"};
  c["args"] = {"echo $(GREETING) $$(HOME) $(MISSING)"};
  c["workingDir"] = "/tmp";
  c["env"] = {{{"name", "WHO"}, {"value", "world"}},
              {{"name", "GREETING"}, {"value", "hello $(WHO)"}},
              {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
              {{"name", "NS"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
              {{"name", "UID"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.uid"}}}}}},
              {{"name", "NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
              {{"name", "IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
              {{"name", "HOST"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}},
              {{"name", "APP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}}};
  c["resources"] = {{"requests", {{"cpu", "250m"}}}, {"limits", {{"cpu", "500m"}, {"memory", "64Mi"}}}};
  Json pod = pod_json({{"nodeName", "node-a"}, {"terminationGracePeriodSeconds", 5}, {"containers", {c}}});
  auto cc = make_container_config(pod, c, inputs(3, "10.88.0.7"), s);
  REQUIRE_MESSAGE(cc, (cc ? "" : cc.error().message));
  CHECK(cc->metadata().name() == "app");
  CHECK(cc->metadata().attempt() == 3);
  CHECK(cc->image().image() == "busybox:1.36");
  CHECK(list(cc->command()) == std::vector<std::string>{"sh", "-c"});
  CHECK(list(cc->args()) == std::vector<std::string>{"echo hello world $(HOME) $(MISSING)"});
  CHECK(cc->working_dir() == "/tmp");
  std::map<std::string, std::string> env;
  for (auto& kv : cc->envs()) env[kv.key()] = kv.value();
  CHECK(env["GREETING"] == "hello world");
  CHECK(env["POD"] == "web");
  CHECK(env["NS"] == "shop");
  CHECK(env["UID"] == "u-123");
  CHECK(env["NODE"] == "node-a");
  CHECK(env["IP"] == "10.88.0.7");
  CHECK(env["HOST"] == "192.0.2.10");
  CHECK(env["APP"] == "web");
  CHECK(cc->log_path() == "app/3.log");
  auto& r = cc->linux().resources();
  CHECK(r.cpu_shares() == 256);
  CHECK(r.cpu_period() == 100000);
  CHECK(r.cpu_quota() == 50000);
  CHECK(r.memory_limit_in_bytes() == 64LL * 1024 * 1024);
  CHECK(cc->labels().at(kPodNameLabel) == "web");
  CHECK(cc->labels().at(kPodNamespaceLabel) == "shop");
  CHECK(cc->labels().at(kPodUidLabel) == "u-123");
  CHECK(cc->labels().at(kContainerNameLabel) == "app");
  CHECK(cc->annotations().at("io.kubernetes.container.restartCount") == "3");

  SUBCASE("no requests: the minimum shares and no quota; a limit alone is the request") {
    auto plain = make_container_config(pod, busybox("plain"), inputs(), s);
    REQUIRE(plain);
    CHECK(plain->linux().resources().cpu_shares() == 2);
    CHECK(plain->linux().resources().cpu_quota() == 0);
    CHECK(plain->linux().resources().memory_limit_in_bytes() == 0);
    Json limited = busybox("limited");
    limited["resources"] = {{"limits", {{"cpu", "1"}}}};
    auto l = make_container_config(pod, limited, inputs(), s);
    CHECK(l->linux().resources().cpu_shares() == 1024);
    CHECK(l->linux().resources().cpu_quota() == 100000);
  }
  SUBCASE("an env source that cannot be read is an error naming the variable") {
    Json bad = busybox("bad");
    bad["env"] = {{{"name", "SECRET"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}}};
    auto b = make_container_config(pod, bad, inputs(), s);
    REQUIRE(!b);
    CHECK(b.error().message.find("SECRET") != std::string::npos);
    Json field = busybox("field");
    field["env"] = {{{"name", "X"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nothing"}}}}}}};
    CHECK(!make_container_config(pod, field, inputs(), s));
  }
}

TEST_CASE("env from ConfigMaps, Secrets and resource fields") {
  PodSettings s;
  s.node_cpu_millis = 4000;
  s.node_memory_bytes = 8LL << 30;
  std::map<std::string, Json> objects = {
      {"configmaps/shop/cfg", {{"data", {{"MODE", "fast"}, {"LEVEL", "3"}, {"bad key", "x"}}}}},
      {"secrets/shop/pw", {{"data", {{"PASSWORD", "czNjcjN0"}}}}}};  // "s3cr3t"
  ContainerInputs in;
  in.objects = [&](const std::string& resource, const std::string& ns, const std::string& name) -> Result<Json> {
    auto it = objects.find(resource + "/" + ns + "/" + name);
    if (it == objects.end()) return fail(ErrorKind::NotFound, "{} {} not found", resource, name);
    return it->second;
  };
  Json c = busybox("app");
  c["resources"] = {{"requests", {{"memory", "64Mi"}}}, {"limits", {{"cpu", "250m"}}}};
  Json pod = pod_json({{"containers", {c}}});
  auto env_of = [&](const Json& container) -> Result<std::map<std::string, std::string>> {
    DH_TRY(list, container_env(pod, container, in, s));
    return std::map<std::string, std::string>(list.begin(), list.end());
  };

  Json e = c;
  e["envFrom"] = {{{"configMapRef", {{"name", "cfg"}}}, {"prefix", "CFG_"}}, {{"secretRef", {{"name", "pw"}}}}};
  e["env"] = {
      {{"name", "CFG_MODE"}, {"value", "overridden"}},
      {{"name", "ONE"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "LEVEL"}}}}}},
      {{"name", "PW"}, {"valueFrom", {{"secretKeyRef", {{"name", "pw"}, {"key", "PASSWORD"}}}}}},
      {{"name", "OPT"}, {"valueFrom", {{"secretKeyRef", {{"name", "gone"}, {"key", "k"}, {"optional", true}}}}}},
      {{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}}}}}},
      {{"name", "CPU_M"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}, {"divisor", "1m"}}}}}},
      {{"name", "MEM"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "requests.memory"}, {"divisor", "1Mi"}}}}}},
      {{"name", "MEM_LIMIT"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Gi"}}}}}}};
  auto env = env_of(e);
  REQUIRE_MESSAGE(env, (env ? "" : env.error().message));
  CHECK((*env)["CFG_MODE"] == "overridden");
  CHECK((*env)["CFG_LEVEL"] == "3");
  CHECK(env->count("CFG_bad key") == 0);  // not a variable name: skipped, as kubelet does
  CHECK((*env)["PASSWORD"] == "s3cr3t");
  CHECK((*env)["ONE"] == "3");
  CHECK((*env)["PW"] == "s3cr3t");
  CHECK(env->count("OPT") == 0);
  CHECK((*env)["CPU"] == "1");  // 250m rounded up to whole cores
  CHECK((*env)["CPU_M"] == "250");
  CHECK((*env)["MEM"] == "64");
  CHECK((*env)["MEM_LIMIT"] == "8");  // no limit: the node's allocatable

  Json missing = c;
  missing["env"] = {{{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "nope"}, {"key", "k"}}}}}}};
  auto m = env_of(missing);
  REQUIRE(!m);
  CHECK(m.error().kind == ErrorKind::NotFound);
  CHECK(m.error().message.find("configmap \"nope\" not found") != std::string::npos);
  Json no_key = c;
  no_key["env"] = {{{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "k"}}}}}}};
  auto k = env_of(no_key);
  REQUIRE(!k);
  CHECK(k.error().message.find("couldn't find key k in ConfigMap shop/cfg") != std::string::npos);
  Json from_missing = c;
  from_missing["envFrom"] = {{{"secretRef", {{"name", "nope"}}}}};
  CHECK(!env_of(from_missing));
  from_missing["envFrom"] = {{{"secretRef", {{"name", "nope"}, {"optional", true}}}}};
  CHECK(env_of(from_missing));
}

TEST_CASE("image pull policy defaults") {
  CHECK(image_pull_policy(Json{{"image", "busybox"}}) == "Always");
  CHECK(image_pull_policy(Json{{"image", "busybox:latest"}}) == "Always");
  CHECK(image_pull_policy(Json{{"image", "busybox:1.36"}}) == "IfNotPresent");
  CHECK(image_pull_policy(Json{{"image", "registry:5000/busybox"}}) == "Always");
  CHECK(image_pull_policy(Json{{"image", "busybox@sha256:abcd"}}) == "IfNotPresent");
  CHECK(image_pull_policy(Json{{"image", "busybox:latest"}, {"imagePullPolicy", "Never"}}) == "Never");
}
