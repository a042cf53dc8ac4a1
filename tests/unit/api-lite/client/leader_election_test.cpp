// Leader election against a real deckhand-apiserver in this process (plain
// HTTP on loopback), with short durations: one leader among candidates,
// release on destruction, and loss of a Lease taken by someone else.
#include "deckhand/client/leader_election.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "deckhand/apiserver/api_server.h"
#include "local_api.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::client;
using deckhand::test::eventually;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Candidate {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::unique_ptr<LeaderElector> elector;

  Candidate(test::LocalApi& api, const std::string& identity, const std::string& lease = "le-test") {
    LeaderElectionConfig c;
    c.lease_name = lease;
    c.identity = identity;
    c.lease_duration = 1500ms;
    c.renew_deadline = 1000ms;
    c.retry_period = 200ms;
    c.on_started_leading = [this] { ++started; };
    c.on_stopped_leading = [this] { ++stopped; };
    auto e = LeaderElector::start(api.new_client(1000ms), std::move(c));
    REQUIRE_MESSAGE(e, (e ? "" : e.error().message));
    elector = std::move(*e);
  }
};

std::string holder_of(test::LocalApi& api, const std::string& lease = "le-test") {
  auto l = api.client->get(resources::kLeases, "kube-system", lease);
  if (!l) return "<" + l.error().message + ">";
  return (*l)["spec"].value("holderIdentity", "");
}

}  // namespace

TEST_CASE("leader election: config errors") {
  LeaderElectionConfig c;
  c.lease_name = "x";
  c.identity = "";
  CHECK_FALSE(LeaderElector::start(nullptr, c));
  ClientConfig cc;
  cc.server = "http://127.0.0.1:1";
  auto api = ApiClient::create(cc);
  REQUIRE(api);
  CHECK_FALSE(LeaderElector::start(*api, c));
  c.identity = "me";
  c.renew_deadline = c.lease_duration;
  CHECK_FALSE(LeaderElector::start(*api, c));
  c.renew_deadline = 1000ms;
  c.retry_period = 1000ms;
  CHECK_FALSE(LeaderElector::start(*api, c));
  CHECK(default_leader_identity().find('_') != std::string::npos);
  CHECK(default_leader_identity() != default_leader_identity());
}

TEST_CASE("leader election: one leader, hand-over on destruction, loss of a stolen lease") {
  test::LocalApi api{"deckhand-le"};
  auto a = std::make_unique<Candidate>(api, "cand-a");
  auto b = std::make_unique<Candidate>(api, "cand-b");

  REQUIRE(eventually([&] { return a->elector->is_leader() || b->elector->is_leader(); }, 5s));
  // For a few renew periods, exactly one of them leads, and the Lease names it.
  auto until = Clock::now() + 1200ms;
  while (Clock::now() < until) {
    CHECK(a->elector->is_leader() != b->elector->is_leader());
    std::this_thread::sleep_for(50ms);
  }
  Candidate* leader = a->elector->is_leader() ? a.get() : b.get();
  Candidate* standby = leader == a.get() ? b.get() : a.get();
  std::string leader_id = leader == a.get() ? "cand-a" : "cand-b";
  std::string standby_id = leader == a.get() ? "cand-b" : "cand-a";
  CHECK(holder_of(api) == leader_id);
  CHECK(leader->started == 1);
  CHECK(standby->started == 0);
  auto lease = api.client->get(resources::kLeases, "kube-system", "le-test");
  REQUIRE(lease);
  std::string renew = (*lease)["spec"].value("renewTime", "");
  CHECK(renew.size() == 27);  // 2026-11-28T03:04:05.123456Z
  CHECK(renew.back() == 'Z');
  CHECK((*lease)["spec"].value("leaseDurationSeconds", 0) == 2);

  // Destroying the leader releases the Lease: the standby takes it well
  // before the lease duration would have run out.
  auto released_at = Clock::now();
  if (leader == a.get()) a.reset(); else b.reset();
  REQUIRE(eventually([&] { return standby->elector->is_leader(); }, 5s));
  CHECK(Clock::now() - released_at < 1000ms);
  CHECK(holder_of(api) == standby_id);
  auto after = api.client->get(resources::kLeases, "kube-system", "le-test");
  REQUIRE(after);
  CHECK((*after)["spec"].value("leaseTransitions", 0) >= 1);

  // Someone else writes the Lease: the leader stops within the renew deadline.
  Json stolen = *after;
  stolen["spec"]["holderIdentity"] = "thief";
  stolen["spec"]["leaseDurationSeconds"] = 60;
  auto written = api.client->update(resources::kLeases, stolen);
  REQUIRE_MESSAGE(written, (written ? "" : written.error().message));
  auto stolen_at = Clock::now();
  REQUIRE(eventually([&] { return standby->stopped.load() == 1; }, 5s));
  CHECK(Clock::now() - stolen_at <= 1000ms + 200ms);
  CHECK_FALSE(standby->elector->is_leader());
  // It does not take the thief's Lease while that has not expired.
  std::this_thread::sleep_for(600ms);
  CHECK(holder_of(api) == "thief");
  CHECK(standby->started == 1);
}

TEST_CASE("leader election: an expired holder is replaced after the lease duration") {
  test::LocalApi api{"deckhand-le"};
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "le-expire"}, {"namespace", "kube-system"}}},
                {"spec",
                 {{"holderIdentity", "gone"},
                  {"leaseDurationSeconds", 1},
                  {"renewTime", "2000-01-01T00:00:00.000000Z"},
                  {"leaseTransitions", 3}}}};
  REQUIRE(api.client->create(resources::kLeases, "kube-system", lease));
  auto start = Clock::now();
  Candidate c(api, "cand-c", "le-expire");
  // The stale renewTime does not count: the candidate waits a full duration
  // from when it first saw the record.
  REQUIRE(eventually([&] { return c.elector->is_leader(); }, 5s));
  CHECK(Clock::now() - start >= 1000ms);
  auto got = api.client->get(resources::kLeases, "kube-system", "le-expire");
  REQUIRE(got);
  CHECK((*got)["spec"].value("leaseTransitions", 0) == 4);
  CHECK((*got)["spec"].value("holderIdentity", "") == "cand-c");
}
