#include <doctest/doctest.h>

#include "deckhand/api/selector.h"

using namespace deckhand;
using namespace deckhand::api;

namespace {

const std::map<std::string, std::string> kWeb = {{"app", "web"}, {"tier", "front"}, {"rank", "7"}};

bool parse_matches(const std::string& text, const std::map<std::string, std::string>& labels) {
  auto s = LabelSelector::parse(text);
  REQUIRE_MESSAGE(s, text);
  return s->matches(labels);
}

std::string parse_error(const std::string& text) {
  auto s = LabelSelector::parse(text);
  REQUIRE_MESSAGE(!s, text);
  CHECK(s.error().kind == ErrorKind::InvalidArgument);
  return s.error().message;
}

}  // namespace

TEST_CASE("label selector: every operator parses and matches") {
  CHECK(parse_matches("", kWeb));
  CHECK(parse_matches("   ", kWeb));
  CHECK(parse_matches("app=web", kWeb));
  CHECK(parse_matches("app==web", kWeb));
  CHECK_FALSE(parse_matches("app=db", kWeb));
  CHECK(parse_matches("app!=db", kWeb));
  CHECK(parse_matches("missing!=x", kWeb));  // absent keys satisfy !=
  CHECK_FALSE(parse_matches("app!=web", kWeb));
  CHECK(parse_matches("app in (db,web)", kWeb));
  CHECK_FALSE(parse_matches("app in (db)", kWeb));
  CHECK_FALSE(parse_matches("missing in (x)", kWeb));
  CHECK(parse_matches("app notin (db)", kWeb));
  CHECK(parse_matches("missing notin (x)", kWeb));
  CHECK_FALSE(parse_matches("app notin (web,db)", kWeb));
  CHECK(parse_matches("tier", kWeb));
  CHECK_FALSE(parse_matches("missing", kWeb));
  CHECK(parse_matches("!missing", kWeb));
  CHECK_FALSE(parse_matches("!app", kWeb));
  CHECK(parse_matches("rank>5", kWeb));
  CHECK_FALSE(parse_matches("rank<5", kWeb));
  CHECK(parse_matches("  app = web ,  tier in ( front , back ) , !gone ", kWeb));
  CHECK_FALSE(parse_matches("app=web,tier=back", kWeb));
  CHECK(parse_matches("empty=", {{"empty", ""}}));
  CHECK_FALSE(parse_matches("empty=", kWeb));
  CHECK(parse_matches("example.com/role=x", {{"example.com/role", "x"}}));
}

TEST_CASE("label selector: requirements are recorded as parsed") {
  auto s = LabelSelector::parse("b notin (y, x),a");
  REQUIRE(s);
  REQUIRE(s->requirements().size() == 2);
  CHECK(s->requirements()[0].key == "b");
  CHECK(s->requirements()[0].op == LabelSelector::Op::NotIn);
  CHECK(s->requirements()[0].values == std::vector<std::string>{"y", "x"});
  CHECK(s->requirements()[1].op == LabelSelector::Op::Exists);
}

TEST_CASE("label selector: parse errors name the term") {
  CHECK(parse_error("app=web,") == "unable to parse requirement: found 'end of string', expected: identifier in \"\"");
  CHECK(parse_error("app in web") ==
        "unable to parse requirement: found 'web', expected: '(' in \"app in web\"");
  CHECK(parse_error("x=y,app in (a b)") ==
        "unable to parse requirement: found 'b', expected: ',' or ')' in \"app in (a b)\"");
  CHECK(parse_error("app ~ web").find("expected: in, notin, =, ==, !=, gt, lt in \"app ~ web\"") != std::string::npos);
  CHECK(parse_error("!") == "unable to parse requirement: found 'end of string', expected: identifier after '!' in \"!\"");
  CHECK(parse_error("a=b c").find("found 'c', expected: ',' or 'end of string'") != std::string::npos);
  CHECK(parse_error("app in ()").find("values set can't be empty") != std::string::npos);
  CHECK(parse_error("rank>x").find("must be an integer") != std::string::npos);
  // Keys and values are validated as label keys and values.
  CHECK(parse_error("Bad_Key_=x").rfind("unable to parse requirement: key: Invalid value: \"Bad_Key_\": name part must "
                                        "consist of alphanumeric characters",
                                        0) == 0);
  CHECK(parse_error("app=-web").rfind("unable to parse requirement: values[0][app]: Invalid value: \"-web\": a valid "
                                      "label must be an empty string",
                                      0) == 0);
}

TEST_CASE("label selector: from_json") {
  auto s = LabelSelector::from_json(Json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["front", "back"]},
      {"key": "gone", "operator": "DoesNotExist"},
      {"key": "rank", "operator": "Exists", "values": []}
    ]})"));
  REQUIRE(s);
  CHECK(s->matches(kWeb));
  CHECK_FALSE(s->matches({{"app", "web"}, {"tier", "front"}}));
  CHECK(s->to_string() == "app=web,!gone,rank,tier in (back,front)");

  auto all = LabelSelector::from_json(Json::object());
  REQUIRE(all);
  CHECK(all->empty());
  CHECK(all->matches({}));

  auto nothing = LabelSelector::from_json(Json());
  REQUIRE(nothing);
  CHECK_FALSE(nothing->empty());
  CHECK_FALSE(nothing->matches(kWeb));

  auto bad_op = LabelSelector::from_json(Json::parse(R"({"matchExpressions":[{"key":"a","operator":"Like"}]})"));
  REQUIRE(!bad_op);
  CHECK(bad_op.error().message == "\"Like\" is not a valid label selector operator");
  auto in_empty = LabelSelector::from_json(Json::parse(R"({"matchExpressions":[{"key":"a","operator":"In"}]})"));
  REQUIRE(!in_empty);
  CHECK(in_empty.error().message.find("values set can't be empty") != std::string::npos);
  auto exists_values =
      LabelSelector::from_json(Json::parse(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})"));
  REQUIRE(!exists_values);
  CHECK(exists_values.error().message.find("values set must be empty for exists and does not exist") !=
        std::string::npos);
  CHECK(!LabelSelector::from_json(Json::parse(R"({"matchLabels":{"a":1}})")));
  CHECK(!LabelSelector::from_json(Json::parse(R"({"matchLabels":{"a b":"c"}})")));
  CHECK(!LabelSelector::from_json(Json::parse(R"([1])")));
  CHECK(!LabelSelector::from_json(Json::parse(R"({"matchExpressions":[7]})")));
  CHECK(!LabelSelector::from_json(Json::parse(R"({"matchExpressions":[{"key":"a","operator":"In","values":"x"}]})")));
  CHECK(!LabelSelector::from_json(Json::parse(R"({"matchExpressions":{}})")));
}

TEST_CASE("label selector: from_map, matches_object") {
  auto s = LabelSelector::from_map({{"app", "web"}});
  CHECK(s.matches_object(Json::parse(R"({"metadata":{"labels":{"app":"web","x":"y"}}})")));
  CHECK_FALSE(s.matches_object(Json::parse(R"({"metadata":{}})")));
  CHECK_FALSE(s.matches_object(Json::parse(R"({"metadata":{"labels":"junk"}})")));
  CHECK_FALSE(s.matches_object(Json(42)));
  CHECK(LabelSelector::from_map({}).matches_object(Json::parse(R"({"metadata":{}})")));
  CHECK(s.to_string() == "app=web");
}

TEST_CASE("label selector: to_string is canonical and parses back") {
  for (const char* text : {"b=1,a!=2", "x in (c,a,b),!y,z", "k notin (v),k2", "r>3,r<9", "e="}) {
    auto s = LabelSelector::parse(text);
    REQUIRE_MESSAGE(s, text);
    auto again = LabelSelector::parse(s->to_string());
    REQUIRE_MESSAGE(again, s->to_string());
    CHECK(again->to_string() == s->to_string());
  }
  CHECK(LabelSelector::parse("b=1, a != 2").value().to_string() == "a!=2,b=1");
  CHECK(LabelSelector::parse("x in (c, a,b)").value().to_string() == "x in (a,b,c)");
}

TEST_CASE("field selector: parse and match") {
  auto s = FieldSelector::parse("spec.nodeName=,status.phase!=Failed,metadata.name==a\\,b");
  REQUIRE(s);
  REQUIRE(s->requirements().size() == 3);
  CHECK(s->requirements()[0].value.empty());
  CHECK(s->requirements()[1].equals == false);
  CHECK(s->requirements()[2].value == "a,b");

  auto getter = [](const Json& o, const std::string& f) { return standard_field_value("pods", o, f); };
  CHECK(s->matches(Json::parse(R"({"metadata":{"name":"a,b"},"status":{"phase":"Pending"}})"), getter));
  CHECK_FALSE(s->matches(Json::parse(R"({"metadata":{"name":"a,b"},"spec":{"nodeName":"n1"}})"), getter));
  CHECK_FALSE(s->matches(Json::parse(R"({"metadata":{"name":"a,b"},"status":{"phase":"Failed"}})"), getter));

  CHECK(FieldSelector::parse("").value().empty());
  auto bad = FieldSelector::parse("metadata.name");
  REQUIRE(!bad);
  CHECK(bad.error().message == "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  CHECK(!FieldSelector::parse("metadata.name=a\\b"));
}

TEST_CASE("field selector: unsupported fields") {
  auto s = FieldSelector::parse("metadata.name=x,spec.bogus=y");
  REQUIRE(s);
  auto st = s->check_supported(nullptr, supported_fields("pods"));
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::InvalidArgument);
  CHECK(st.error().message == "field label not supported: spec.bogus");
  auto getter = [](const Json& o, const std::string& f) { return standard_field_value("pods", o, f); };
  CHECK_FALSE(s->matches(Json::parse(R"({"metadata":{"name":"x"}})"), getter));
  CHECK(FieldSelector::parse("spec.nodeName=n").value().check_supported(nullptr, supported_fields("pods")));
  CHECK(!FieldSelector::parse("spec.nodeName=n").value().check_supported(nullptr, supported_fields("services")));
}

TEST_CASE("standard field values per resource") {
  auto node = Json::parse(R"({"metadata":{"name":"n1"},"spec":{}})");
  CHECK(standard_field_value("nodes", node, "spec.unschedulable") == "false");
  node["spec"]["unschedulable"] = true;
  CHECK(standard_field_value("nodes", node, "spec.unschedulable") == "true");
  CHECK(standard_field_value("nodes", node, "metadata.namespace") == "");
  CHECK(standard_field_value("nodes", node, "status.phase") == std::nullopt);

  auto event = Json::parse(R"({"involvedObject":{"kind":"Pod","name":"p"},"source":{"component":"kubelet"},
                               "reportingComponent":"kubelet","type":"Warning"})");
  CHECK(standard_field_value("events", event, "involvedObject.kind") == "Pod");
  CHECK(standard_field_value("events", event, "source") == "kubelet");
  CHECK(standard_field_value("events", event, "reportingComponent") == "kubelet");
  CHECK(standard_field_value("events", event, "involvedObject.uid") == "");
  CHECK(standard_field_value("secrets", Json::parse(R"({"type":"Opaque"})"), "type") == "Opaque");
  CHECK(standard_field_value("pods", Json::parse(R"({"status":{"podIP":"10.88.0.5"}})"), "status.podIP") ==
        "10.88.0.5");
  CHECK(standard_field_value("pods", Json(), "spec.nodeName") == "");
}
