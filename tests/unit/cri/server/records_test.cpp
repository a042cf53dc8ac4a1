#include <doctest/doctest.h>

#include "container_spec.h"
#include "deckhand/common/fs.h"
#include "deckhand/cri_server/config.h"
#include "records.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cri;

namespace {

SandboxRecord sandbox(const std::string& id) {
  SandboxRecord r;
  r.id = id;
  r.config.mutable_metadata()->set_name("pod-" + id);
  r.state = SandboxState::Ready;
  r.ips = {"10.1.2.3"};
  r.pause_pid = 42;
  return r;
}

}  // namespace

TEST_CASE("RecordStore finds by id and unique prefix, and names the candidates of an ambiguous one") {
  test::TempDir dir;
  SandboxStore store(dir.sub("sandboxes"));
  REQUIRE(store.load());
  REQUIRE(store.add(sandbox("abc123")));
  REQUIRE(store.add(sandbox("abc456")));
  REQUIRE(store.add(sandbox("ffff00")));
  CHECK(store.find("abc123", "sandbox").value()->snapshot().id == "abc123");
  CHECK(store.find("ff", "sandbox").value()->snapshot().id == "ffff00");
  auto amb = store.find("abc", "sandbox");
  REQUIRE(!amb);
  CHECK(amb.error().kind == ErrorKind::InvalidArgument);
  CHECK(amb.error().message.find("abc123") != std::string::npos);
  CHECK(amb.error().message.find("abc456") != std::string::npos);
  auto none = store.find("0000", "sandbox");
  REQUIRE(!none);
  CHECK(none.error().kind == ErrorKind::NotFound);
  CHECK(store.find("", "sandbox").error().kind == ErrorKind::InvalidArgument);
}

TEST_CASE("RecordStore keeps records across a reload, and erase removes the file") {
  test::TempDir dir;
  {
    SandboxStore store(dir.sub("s"));
    REQUIRE(store.load());
    auto e = store.add(sandbox("aaaa"));
    REQUIRE(e);
    {
      std::lock_guard l((*e)->data);
      (*e)->record.state = SandboxState::NotReady;
      (*e)->record.network_attached = true;
    }
    REQUIRE(store.persist(*e));
    REQUIRE(store.add(sandbox("bbbb")));
    REQUIRE(store.erase("bbbb"));
  }
  REQUIRE(fs::write_file_atomic(dir.sub("s/cccc.json"), "{not json"));       // a broken record is skipped
  REQUIRE(fs::write_file_atomic(dir.sub("s/dddd.json.tmp.1.2"), "partial"));  // a crash's temp file is removed
  SandboxStore again(dir.sub("s"));
  REQUIRE(again.load());
  auto all = again.all();
  REQUIRE(all.size() == 1);
  auto r = all[0]->snapshot();
  CHECK(r.id == "aaaa");
  CHECK(r.state == SandboxState::NotReady);
  CHECK(r.network_attached);
  CHECK(r.ips == std::vector<std::string>{"10.1.2.3"});
  CHECK(r.pause_pid == 42);
  CHECK(r.config.metadata().name() == "pod-aaaa");
  CHECK(!fs::exists(dir.sub("s/dddd.json.tmp.1.2")));
}

TEST_CASE("ContainerRecord survives its JSON form") {
  ContainerRecord c;
  c.id = "c1";
  c.sandbox_id = "s1";
  c.state = ContainerState::Exited;
  c.exit_code = 137;
  c.reason = "Error";
  c.config.mutable_image()->set_image("busybox");
  c.stop_signal = 9;
  auto back = container_from_json(to_json(c));
  REQUIRE(back);
  CHECK(back->state == ContainerState::Exited);
  CHECK(back->exit_code == 137);
  CHECK(back->reason == "Error");
  CHECK(back->config.image().image() == "busybox");
  CHECK(back->stop_signal == 9);
  CHECK(!container_from_json(Json::object()));
}

TEST_CASE("stop signals: the request's, else the image's, else SIGTERM") {
  CHECK(parse_signal("SIGKILL") == 9);
  CHECK(parse_signal("TERM") == 15);
  CHECK(parse_signal("2") == 2);
  CHECK(parse_signal("SIGNOPE") == 0);
  CHECK(parse_signal("") == 0);
  ::runtime::v1::ContainerConfig c;
  images::ImageConfig img;
  CHECK(stop_signal_for(c, img) == 15);
  img.stop_signal = "SIGQUIT";
  CHECK(stop_signal_for(c, img) == 3);
  c.set_stop_signal(::runtime::v1::SIGNAL_SIGUSR1);
  CHECK(stop_signal_for(c, img) == 10);
}

TEST_CASE("container configs: validation names the field; zero hugepage limits are dropped") {
  ::runtime::v1::ContainerConfig c;
  CHECK(validate_container_config(c).error().message.find("metadata") != std::string::npos);
  c.mutable_metadata()->set_name("x");
  CHECK(validate_container_config(c).error().message.find("image.image") != std::string::npos);
  c.mutable_image()->set_image("busybox");
  CHECK(validate_container_config(c));
  c.set_tty(true);
  CHECK(validate_container_config(c).error().kind == ErrorKind::Unimplemented);

  ::runtime::v1::LinuxContainerResources r;
  r.set_cpu_shares(512);
  r.set_memory_limit_in_bytes(1 << 20);
  auto* zero = r.add_hugepage_limits();
  zero->set_page_size("2MB");
  zero->set_limit(0);
  auto s = to_resource_spec(r);
  CHECK(s.cpu_shares == 512);
  CHECK(s.memory_limit == 1 << 20);
  CHECK(s.hugepage_limits.empty());  // kubelet sends zero limits for every page size
}

TEST_CASE("config: defaults, TOML file, then flags; errors name what is wrong") {
  test::TempDir dir;
  REQUIRE(fs::write_file_atomic(dir.sub("cri.toml"), R"(
socket = "/tmp/x.sock"
state_dir = "/srv/state"
kill_grace_ms = 250
[cni]
conf_dir = "/etc/cni/other"
bin_dirs = ["/a", "/b"]
)"));
  std::string file = dir.sub("cri.toml");
  test::Argv argv({"deckhand-cri", "--config", file, "--socket", "/tmp/y.sock"});
  auto c = load_config(argv.argc(), argv.argv());
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(c->socket == "/tmp/y.sock");      // the flag wins
  CHECK(c->state_dir == "/srv/state");    // from the file
  CHECK(c->kill_grace.count() == 250);
  CHECK(c->cni.conf_dir == "/etc/cni/other");
  CHECK(c->cni.bin_dirs == std::vector<std::string>{"/a", "/b"});
  CHECK(c->cni.cache_dir == "/srv/state/cni-results");  // follows the state dir
  CHECK(c->run_dir == "/run/deckhand/cri");            // default

  test::Argv bad({"deckhand-cri", "--config", file, "--frobnicate", "1"});
  auto e = load_config(bad.argc(), bad.argv());
  REQUIRE(!e);
  CHECK(e.error().message.find("--frobnicate") != std::string::npos);

  REQUIRE(fs::write_file_atomic(dir.sub("broken.toml"), "socket = \n"));
  std::string broken = dir.sub("broken.toml");
  test::Argv b({"deckhand-cri", "--config", broken});
  auto be = load_config(b.argc(), b.argv());
  REQUIRE(!be);
  CHECK(be.error().message.find("line 1") != std::string::npos);

  test::Argv missing({"deckhand-cri", "--config", "/nonexistent/cri.toml"});
  CHECK(!load_config(missing.argc(), missing.argv()));

  // A key the daemon does not know is an error, as is a registry table of the wrong shape.
  REQUIRE(fs::write_file_atomic(broken, "sockett = \"/x\"\n"));
  auto unknown = load_config(b.argc(), b.argv());
  REQUIRE(!unknown);
  CHECK(unknown.error().message.find("unknown key 'sockett'") != std::string::npos);
  REQUIRE(fs::write_file_atomic(broken, "[registry]\nhosts = 3\n"));
  auto bad_registry = load_config(b.argc(), b.argv());
  REQUIRE(!bad_registry);
  CHECK(bad_registry.error().message.find("registry.hosts") != std::string::npos);
  REQUIRE(fs::write_file_atomic(broken, "[registry.hosts.\"r.test\"]\nmirrors = [\"http://m.test\"]\n"));
  auto with_registry = load_config(b.argc(), b.argv());
  REQUIRE_MESSAGE(with_registry, with_registry.error().message);
  CHECK(with_registry->registry.hosts.at("r.test").mirrors == std::vector<std::string>{"http://m.test"});
}
