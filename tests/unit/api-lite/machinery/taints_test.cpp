#include "deckhand/api/taints.h"

#include <doctest/doctest.h>

using namespace deckhand;
using namespace deckhand::api;

TEST_CASE("taints parse as key=value:Effect or key:Effect; bad ones are named") {
  auto t = parse_taint_text("dedicated=gpu:NoSchedule");
  REQUIRE(t);
  CHECK(*t == Taint{"dedicated", "gpu", "NoSchedule", ""});
  auto bare = parse_taint_text("maintenance:NoExecute");
  REQUIRE(bare);
  CHECK(bare->value.empty());
  auto bad = parse_taint_text("x=y:Sometimes");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("x=y:Sometimes") != std::string::npos);
  CHECK_FALSE(parse_taint_text("novalue"));
  CHECK_FALSE(parse_taint_text("=v:NoSchedule"));
}

TEST_CASE("taints and tolerations from objects, and back") {
  auto taints = parse_taints(Json::parse(R"([
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-11-28T10:00:00Z"},
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, 7])"));
  REQUIRE(taints.size() == 2);
  CHECK(taints[0].time_added == "2026-11-28T10:00:00Z");
  CHECK(taint_json(taints[0]) == Json::parse(
                                     R"({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                                         "timeAdded": "2026-11-28T10:00:00Z"})"));
  CHECK(taint_json(taints[1]) == Json::parse(R"({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})"));
  CHECK(parse_taints(Json("x")).empty());

  auto tolerations = parse_tolerations(Json::parse(R"([
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "dedicated", "value": "gpu"}])"));
  REQUIRE(tolerations.size() == 2);
  CHECK(tolerations[0].op == "Exists");
  CHECK(tolerations[0].seconds == 300);
  CHECK(tolerations[1].op == "Equal");  // the default
  CHECK_FALSE(tolerations[1].seconds);
}

TEST_CASE("which toleration tolerates which taint") {
  Taint gpu{"dedicated", "gpu", "NoSchedule", ""};
  CHECK(Toleration{"dedicated", "Equal", "gpu", "", {}}.tolerates(gpu));           // every effect
  CHECK(Toleration{"dedicated", "Equal", "gpu", "NoSchedule", {}}.tolerates(gpu));
  CHECK_FALSE(Toleration{"dedicated", "Equal", "gpu", "NoExecute", {}}.tolerates(gpu));
  CHECK_FALSE(Toleration{"dedicated", "Equal", "cpu", "", {}}.tolerates(gpu));
  CHECK(Toleration{"dedicated", "Exists", "", "", {}}.tolerates(gpu));
  CHECK(Toleration{"", "Exists", "", "", {}}.tolerates(gpu));                      // everything
  CHECK_FALSE(Toleration{"", "Equal", "", "", {}}.tolerates(gpu));
  CHECK_FALSE(Toleration{"dedicated", "Sometimes", "gpu", "", {}}.tolerates(gpu));  // unknown operator
  CHECK(tolerated({{"other", "Exists", "", "", {}}, {"dedicated", "Exists", "", "", {}}}, gpu));
  CHECK_FALSE(tolerated({}, gpu));
}
