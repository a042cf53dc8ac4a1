// Leaked IP leases (the "no IP addresses available" of a node after a crash or
// a lost state dir): deckhand-cri releases, on start, the network of every
// attachment that no sandbox it knows holds. With a 1.1.0 conflist through the
// plugins' GC verb (cni.dev/valid-attachments), with older ones through DEL
// with the kept ADD result. Our plugins in both; the reference plugins in the
// one test that keeps them for deckhand-cri (pod_lifecycle_test).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>

#include "cri_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;

namespace {

std::string lease_of(CriWorld& w, const std::string& pod_id) {
  auto status = w.client().pod_sandbox_status(pod_id, false);
  REQUIRE(status);
  return status->status().network().ip();
}

// Makes the daemon forget a sandbox as if its record were lost: its pause
// process and netns pin go too, only the network attachment stays behind.
void forget_sandbox(CriWorld& w, const std::string& id) {
  std::string file = w.state_dir() + "/sandboxes/" + id + ".json";
  auto rec = read_json_file(file);
  REQUIRE(rec);
  pid_t pause = (*rec)["pause_pid"].get<pid_t>();
  if (pause > 0) ::kill(pause, SIGKILL);
  std::string pin = (*rec)["netns_path"].get<std::string>();
  ::umount2(pin.c_str(), MNT_DETACH);
  ::unlink(pin.c_str());
  REQUIRE(::unlink(file.c_str()) == 0);
}

}  // namespace

TEST_CASE("with a 1.1.0 conflist, GC on start releases leases no sandbox holds and keeps the others") {
  WorldOptions o;
  o.cni_version = "1.1.0";
  CriWorld w(o);
  w.start();
  auto keep = w.client().run_pod_sandbox(w.pod_config("keep"));
  REQUIRE(keep);
  std::string kept_ip = lease_of(w, *keep);
  REQUIRE(!kept_ip.empty());
  // A lease whose owner is gone without a trace (no cached result either).
  std::string leaked = w.subnet_prefix() + "200";
  REQUIRE(fs::write_file_atomic(w.ipam_dir() + "/" + leaked, "0123456789abcdef\r\neth0"));
  REQUIRE(w.ip_leases().size() == 2);

  w.crash();
  w.start();
  CHECK(w.ip_leases() == std::vector<std::string>{kept_ip});
  auto status = w.client().pod_sandbox_status(*keep, false);
  REQUIRE(status);
  CHECK(status->status().state() == ::runtime::v1::SANDBOX_READY);
  CHECK(w.bridge_ports().size() == 1);
}

TEST_CASE("with a 1.0.0 conflist, start releases through DEL the network of sandboxes the daemon lost") {
  CriWorld w;  // cniVersion 1.0.0: no GC verb
  w.start();
  auto keep = w.client().run_pod_sandbox(w.pod_config("keep"));
  auto lost = w.client().run_pod_sandbox(w.pod_config("lost"));
  REQUIRE(keep);
  REQUIRE(lost);
  std::string kept_ip = lease_of(w, *keep);
  REQUIRE(w.ip_leases().size() == 2);
  REQUIRE(w.bridge_ports().size() == 2);

  w.crash();
  forget_sandbox(w, *lost);
  w.start();
  CHECK(w.ip_leases() == std::vector<std::string>{kept_ip});
  CHECK(w.bridge_ports().size() == 1);  // the lost pod's host veth is gone too
  auto pods = w.client().list_pod_sandbox();
  REQUIRE(pods);
  REQUIRE(pods->size() == 1);
  CHECK(pods->front().id() == *keep);
}

TEST_CASE("with a 1.1.0 conflist, NetworkReady follows the plugins' STATUS") {
  WorldOptions o;
  o.cni_version = "1.1.0";
  CriWorld w(o);
  w.start();
  auto network_ready = [&]() -> std::pair<bool, std::string> {
    auto st = w.client().status(false);
    REQUIRE(st);
    for (const auto& c : st->status().conditions())
      if (c.type() == "NetworkReady") return {c.status(), c.message()};
    FAIL("no NetworkReady condition");
    return {false, ""};
  };
  CHECK(network_ready().first);
  // host-local cannot keep leases where its store should be: a file there.
  (void)fs::remove_all(w.ipam_dir());
  REQUIRE(fs::write_file_atomic(w.ipam_dir(), "not a directory"));
  auto [ready, message] = network_ready();
  CHECK(!ready);
  CHECK_MESSAGE(message.find("STATUS") != std::string::npos, message);
  REQUIRE(::unlink(w.ipam_dir().c_str()) == 0);
  CHECK(network_ready().first);
}
