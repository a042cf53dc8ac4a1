// Whole ADD/DEL/CHECK flows against fake plugins: shell scripts that record
// their environment and stdin and print what the test put in place for them.
#include "deckhand/cni/invoker.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cni;
using namespace std::chrono_literals;

namespace {

// Behaviour per plugin and command comes from files in rec/:
// <plugin>.<COMMAND>.out is printed, .exit is the exit code, .sleep makes it hang.
constexpr const char* kFakePlugin = R"SH(#!/bin/sh
d='@REC@'; p='@NAME@'
echo "$p $CNI_COMMAND" >> "$d/calls"
env > "$d/$p.$CNI_COMMAND.env"
cat > "$d/$p.$CNI_COMMAND.stdin"
[ -f "$d/$p.$CNI_COMMAND.sleep" ] && exec sleep "$(cat "$d/$p.$CNI_COMMAND.sleep")"
[ -f "$d/$p.$CNI_COMMAND.out" ] && cat "$d/$p.$CNI_COMMAND.out"
[ -f "$d/$p.$CNI_COMMAND.exit" ] && exit "$(cat "$d/$p.$CNI_COMMAND.exit")"
exit 0
)SH";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

Json result_of(const std::string& ip) {
  return Json{{"cniVersion", "1.0.0"},
              {"interfaces", Json::array({{{"name", "eth0"}, {"sandbox", "/proc/self/ns/net"}}})},
              {"ips", Json::array({{{"address", ip + "/24"}, {"interface", 0}}})}};
}

struct FakeCni {
  test::TempDir dir{"deckhand-cni-unit"};
  std::string conf = dir.sub("net.d"), bin = dir.sub("bin"), rec = dir.sub("rec"), cache = dir.sub("cache");

  FakeCni() {
    for (auto* d : {&conf, &bin, &rec}) REQUIRE(fs::make_dirs(*d));
  }
  void plugin(const std::string& name) {
    std::string script = replace_all(replace_all(kFakePlugin, "@REC@", rec), "@NAME@", name);
    REQUIRE(fs::write_file_atomic(fs::join(bin, name), script, 0755));
  }
  void set(const std::string& name, const std::string& cmd, const std::string& what,
           const std::string& text) {
    REQUIRE(fs::write_file_atomic(fmt::format("{}/{}.{}.{}", rec, name, cmd, what), text));
  }
  void conflist(const std::vector<std::string>& types, const std::string& version = "1.0.0",
                const std::string& name = "fakenet", const std::string& file = "10-fake.conflist") {
    Json plugins = Json::array();
    for (const auto& t : types) plugins.push_back({{"type", t}, {"marker", t + "-conf"}});
    Json list = {{"cniVersion", version}, {"name", name}, {"plugins", plugins}};
    REQUIRE(fs::write_file_atomic(fs::join(conf, file), list.dump()));
  }
  // Two plugins: "main" makes the result, "meta" passes prevResult on, as bridge and portmap do.
  void chain(const std::string& version = "1.0.0") {
    plugin("main");
    plugin("meta");
    conflist({"main", "meta"}, version);
    set("main", "ADD", "out", result_of("10.1.2.3").dump());
    Json meta = result_of("10.1.2.3");
    meta["ips"].push_back({{"address", "fd00::3/64"}});
    set("meta", "ADD", "out", meta.dump());
  }
  CniInvoker invoker(std::chrono::milliseconds timeout = 10s) const {
    return CniInvoker(InvokerConfig{conf, {dir.sub("empty"), bin}, cache, timeout});
  }
  static Attachment attachment(const std::string& id = "c0ffee") {
    Attachment a;
    a.container_id = id;
    a.netns_path = "/proc/self/ns/net";
    a.pod_name = "pod";
    a.pod_namespace = "ns";
    a.pod_uid = "uid";
    return a;
  }
  std::vector<std::string> calls() const {
    auto text = fs::read_file(rec + "/calls");
    std::vector<std::string> out;
    if (!text) return out;
    size_t start = 0;
    for (size_t nl; (nl = text->find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(text->substr(start, nl - start));
    return out;
  }
  void clear_calls() const { ::unlink((rec + "/calls").c_str()); }
  Json stdin_of(const std::string& name, const std::string& cmd) const {
    auto j = read_json_file(fmt::format("{}/{}.{}.stdin", rec, name, cmd));
    REQUIRE(j);
    return *j;
  }
  std::string env_of(const std::string& name, const std::string& cmd) const {
    auto t = fs::read_file(fmt::format("{}/{}.{}.env", rec, name, cmd));
    REQUIRE(t);
    return *t;
  }
  size_t cache_files() const {
    auto names = fs::list_dir(cache);
    return names ? names->size() : 0;
  }
};

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

using Calls = std::vector<std::string>;

}  // namespace

TEST_CASE("ADD runs the chain with name, cniVersion and prevResult injected, and keeps the result") {
  FakeCni f;
  f.chain();
  auto inv = f.invoker();
  auto r = inv.add(FakeCni::attachment());
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(f.calls() == Calls{"main ADD", "meta ADD"});
  CHECK(r->ips == std::vector<std::string>{"10.1.2.3", "fd00::3"});
  CHECK(r->result["ips"].size() == 2);

  Json first = f.stdin_of("main", "ADD");
  CHECK(first["name"] == "fakenet");
  CHECK(first["cniVersion"] == "1.0.0");
  CHECK(first["marker"] == "main-conf");
  CHECK(!first.contains("prevResult"));
  Json second = f.stdin_of("meta", "ADD");
  CHECK(second["name"] == "fakenet");
  CHECK(second["prevResult"] == result_of("10.1.2.3"));

  std::string env = f.env_of("main", "ADD");
  CHECK(has_line(env, "CNI_COMMAND=ADD"));
  CHECK(has_line(env, "CNI_CONTAINERID=c0ffee"));
  CHECK(has_line(env, "CNI_NETNS=/proc/self/ns/net"));
  CHECK(has_line(env, "CNI_IFNAME=eth0"));
  CHECK(has_line(env, "CNI_ARGS=" + cni_args(FakeCni::attachment())));
  CHECK(has_line(env, "CNI_PATH=" + f.dir.sub("empty") + ":" + f.bin));
  CHECK(env.find("\nPATH=") != std::string::npos);

  CHECK(fs::exists(f.cache + "/fakenet-c0ffee-eth0"));
  CHECK(inv.network_name() == "fakenet");
}

TEST_CASE("a failed ADD runs DEL through the whole list and returns the plugin's error") {
  FakeCni f;
  f.chain();
  f.plugin("last");
  f.conflist({"main", "meta", "last"});
  f.set("meta", "ADD", "out", R"({"cniVersion":"1.0.0","code":7,"msg":"meta says no","details":"why"})");
  f.set("meta", "ADD", "exit", "1");
  auto r = f.invoker().add(FakeCni::attachment());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::FailedPrecondition);
  CHECK(r.error().message.find("meta") != std::string::npos);
  CHECK(r.error().message.find("meta says no") != std::string::npos);
  CHECK(r.error().message.find("why") != std::string::npos);
  CHECK(r.error().message.find("fakenet") != std::string::npos);
  CHECK(f.calls() == Calls{"main ADD", "meta ADD", "last DEL", "meta DEL", "main DEL"});
  // DEL gets what the chain had produced before the failure.
  CHECK(f.stdin_of("main", "DEL")["prevResult"] == result_of("10.1.2.3"));
  CHECK(f.cache_files() == 0);
}

TEST_CASE("a plugin that prints no result fails ADD") {
  FakeCni f;
  f.chain();
  f.set("meta", "ADD", "out", "");
  auto r = f.invoker().add(FakeCni::attachment());
  REQUIRE(!r);
  CHECK(r.error().message.find("no result") != std::string::npos);
  CHECK(f.calls() == Calls{"main ADD", "meta ADD", "meta DEL", "main DEL"});
}

TEST_CASE("a plugin rejecting the config version surfaces its error") {
  FakeCni f;
  f.chain();
  f.set("main", "ADD", "out", R"({"code":1,"msg":"incompatible CNI versions"})");
  f.set("main", "ADD", "exit", "1");
  auto r = f.invoker().add(FakeCni::attachment());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::FailedPrecondition);
  CHECK(r.error().message.find("incompatible CNI versions") != std::string::npos);
}

TEST_CASE("DEL after a restart sends the kept result, in reverse order, and forgets it") {
  FakeCni f;
  f.chain();
  auto added = f.invoker().add(FakeCni::attachment());
  REQUIRE(added);
  f.clear_calls();
  auto st = f.invoker().del(FakeCni::attachment());  // a new instance, as after a restart
  REQUIRE_MESSAGE(st, st.error().message);
  CHECK(f.calls() == Calls{"meta DEL", "main DEL"});
  CHECK(f.stdin_of("meta", "DEL")["prevResult"] == added->result);
  CHECK(f.stdin_of("main", "DEL")["prevResult"] == added->result);
  CHECK(f.stdin_of("main", "DEL")["name"] == "fakenet");
  CHECK(has_line(f.env_of("main", "DEL"), "CNI_NETNS=/proc/self/ns/net"));
  CHECK(f.cache_files() == 0);

  f.clear_calls();
  REQUIRE(f.invoker().del(FakeCni::attachment()));  // again: DEL without prevResult
  CHECK(f.calls() == Calls{"meta DEL", "main DEL"});
  CHECK(!f.stdin_of("main", "DEL").contains("prevResult"));
}

TEST_CASE("DEL uses the config kept at ADD when the conf dir changed") {
  FakeCni f;
  f.chain();
  REQUIRE(f.invoker().add(FakeCni::attachment()));
  ::unlink((f.conf + "/10-fake.conflist").c_str());
  f.plugin("other");
  f.conflist({"other"}, "1.0.0", "othernet", "05-other.conflist");
  f.clear_calls();
  REQUIRE(f.invoker().del(FakeCni::attachment()));
  CHECK(f.calls() == Calls{"meta DEL", "main DEL"});
  CHECK(f.cache_files() == 0);
}

TEST_CASE("DEL without a kept result, a config or a netns still succeeds") {
  FakeCni f;
  SUBCASE("nothing at all") { CHECK(f.invoker().del(FakeCni::attachment())); }
  SUBCASE("config but no kept result, netns gone") {
    f.chain();
    Attachment a = FakeCni::attachment();
    a.netns_path = f.dir.sub("gone-netns");
    REQUIRE(f.invoker().del(a));
    CHECK(f.calls() == Calls{"meta DEL", "main DEL"});
    CHECK(f.env_of("main", "DEL").find("CNI_NETNS=") == std::string::npos);
    CHECK(!f.stdin_of("main", "DEL").contains("prevResult"));
  }
}

TEST_CASE("a failed DEL keeps the result so that a retry sends it again") {
  FakeCni f;
  f.chain();
  REQUIRE(f.invoker().add(FakeCni::attachment()));
  f.set("meta", "DEL", "out", R"({"code":11,"msg":"busy"})");
  f.set("meta", "DEL", "exit", "1");
  auto st = f.invoker().del(FakeCni::attachment());
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::Unavailable);
  CHECK(f.cache_files() == 1);
}

TEST_CASE("0.3.x lists get no prevResult on DEL and no CHECK") {
  FakeCni f;
  f.chain("0.3.1");
  REQUIRE(f.invoker().add(FakeCni::attachment()));
  auto check = f.invoker().check(FakeCni::attachment());
  REQUIRE(!check);
  CHECK(check.error().kind == ErrorKind::Unimplemented);
  REQUIRE(f.invoker().del(FakeCni::attachment()));
  CHECK(!f.stdin_of("main", "DEL").contains("prevResult"));
}

TEST_CASE("CHECK runs the chain in order with the kept result") {
  FakeCni f;
  f.chain();
  auto inv = f.invoker();
  auto missing = inv.check(FakeCni::attachment());
  REQUIRE(!missing);
  CHECK(missing.error().kind == ErrorKind::NotFound);
  auto added = inv.add(FakeCni::attachment());
  REQUIRE(added);
  f.clear_calls();
  REQUIRE(inv.check(FakeCni::attachment()));
  CHECK(f.calls() == Calls{"main CHECK", "meta CHECK"});
  CHECK(f.stdin_of("main", "CHECK")["prevResult"] == added->result);
}

TEST_CASE("a hanging plugin is killed at the timeout") {
  FakeCni f;
  f.chain();
  f.set("meta", "ADD", "sleep", "30");
  auto start = std::chrono::steady_clock::now();
  auto r = f.invoker(300ms).add(FakeCni::attachment());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::DeadlineExceeded);
  CHECK(r.error().message.find("meta") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(f.calls() == Calls{"main ADD", "meta ADD", "meta DEL", "main DEL"});
}

TEST_CASE("ready reports a missing config and a missing plugin binary") {
  FakeCni f;
  auto none = f.invoker().ready();
  REQUIRE(!none);
  CHECK(none.error().kind == ErrorKind::FailedPrecondition);
  CHECK(none.error().message.find("cni config uninitialized") != std::string::npos);
  f.plugin("main");
  f.conflist({"main", "absent"});
  auto missing = f.invoker().ready();
  REQUIRE(!missing);
  CHECK(missing.error().message.find("\"absent\"") != std::string::npos);
  auto add = f.invoker().add(FakeCni::attachment());
  REQUIRE(!add);
  CHECK(f.calls().empty());  // nothing runs when a plugin is missing
  f.plugin("absent");
  CHECK(f.invoker().ready());
}

TEST_CASE("validate checks the plugins' VERSION answers") {
  FakeCni f;
  f.chain();
  f.set("main", "VERSION", "out", R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})");
  f.set("meta", "VERSION", "out", R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})");
  CHECK(f.invoker().validate());
  CHECK(f.stdin_of("main", "VERSION")["cniVersion"] == "1.0.0");
  f.set("meta", "VERSION", "out", R"({"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0"]})");
  auto st = f.invoker().validate();
  REQUIRE(!st);
  CHECK(st.error().message.find("meta") != std::string::npos);
}

TEST_CASE("invalid attachments are refused before any plugin runs") {
  FakeCni f;
  f.chain();
  Attachment a = FakeCni::attachment();
  a.container_id = "../x";
  CHECK(!f.invoker().add(a));
  a = FakeCni::attachment();
  a.netns_path.clear();
  CHECK(!f.invoker().add(a));
  a = FakeCni::attachment();
  a.ifname = "a-very-long-interface-name";
  CHECK(!f.invoker().del(a));
  CHECK(f.calls().empty());
}

TEST_CASE("GC deletes stale kept attachments and, for 1.1.0, sends GC with the valid ones") {
  FakeCni f;
  f.chain("1.1.0");
  auto inv = f.invoker();
  REQUIRE(inv.add(FakeCni::attachment("live")));
  REQUIRE(inv.add(FakeCni::attachment("stale")));
  f.clear_calls();
  REQUIRE(inv.gc({FakeCni::attachment("live")}));
  CHECK(f.calls() == Calls{"meta DEL", "main DEL", "main GC", "meta GC"});
  CHECK(f.env_of("main", "DEL").find("CNI_CONTAINERID=stale") != std::string::npos);
  Json gc = f.stdin_of("main", "GC");
  REQUIRE(gc["cni.dev/valid-attachments"].size() == 1);
  CHECK(gc["cni.dev/valid-attachments"][0] == Json{{"containerID", "live"}, {"ifname", "eth0"}});
  CHECK(f.cache_files() == 1);
  f.clear_calls();
  REQUIRE(inv.status());
  CHECK(f.calls() == Calls{"main STATUS", "meta STATUS"});
}
