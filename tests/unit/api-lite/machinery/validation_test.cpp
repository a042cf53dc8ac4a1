#include <doctest/doctest.h>

#include <set>

#include "deckhand/api/validation.h"

using namespace deckhand;
using namespace deckhand::api;

namespace {

const char* const kSubdomainRule =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const char* const kLabelRule =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

std::vector<std::string> messages(const std::vector<Cause>& causes) {
  std::vector<std::string> out;
  for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
  return out;
}

}  // namespace

TEST_CASE("DNS-1123 subdomain and label messages") {
  CHECK(check_dns1123_subdomain("example.com", "metadata.name").empty());
  CHECK(check_dns1123_subdomain("a", "metadata.name").empty());
  auto bad = check_dns1123_subdomain("Foo", "metadata.name");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].field == "metadata.name");
  CHECK(bad[0].reason == "FieldValueInvalid");
  CHECK(bad[0].message == std::string("Invalid value: \"Foo\": ") + kSubdomainRule);
  for (const char* s : {"", "-a", "a-", "a..b", ".a", "a_b"}) CHECK_MESSAGE(!check_dns1123_subdomain(s, "f").empty(), s);

  auto too_long = check_dns1123_subdomain(std::string(254, 'a'), "metadata.name");
  REQUIRE(too_long.size() == 1);
  CHECK(too_long[0].message.find(": must be no more than 253 characters") != std::string::npos);
  CHECK(check_dns1123_subdomain(std::string(253, 'a'), "f").empty());

  CHECK(check_dns1123_label("my-name", "f").empty());
  CHECK(check_dns1123_label(std::string(63, 'a'), "f").empty());
  CHECK(messages(check_dns1123_label(std::string(64, 'a'), "f")) ==
        std::vector<std::string>{"f: Invalid value: \"" + std::string(64, 'a') +
                                 "\": must be no more than 63 characters"});
  CHECK(messages(check_dns1123_label("a.b", "f")) ==
        std::vector<std::string>{"f: Invalid value: \"a.b\": must not contain dots"});
  auto upper = check_dns1123_label("Web", "f");
  REQUIRE(upper.size() == 1);
  // Kubernetes' RegexError puts ", " after each example.
  CHECK(upper[0].message == std::string("Invalid value: \"Web\": ") + kLabelRule);
}

TEST_CASE("labels and annotations") {
  CHECK(check_labels(Json::parse(R"({"app":"web","example.com/tier":"front","empty":""})"), "metadata.labels").empty());
  auto bad = check_labels(Json::parse(R"({"bad key":"v","k":"-v-"})"), "metadata.labels");
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].field == "metadata.labels");
  CHECK(bad[0].message.rfind("Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' "
                             "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                             "'my.name',  or '123-abc', regex used for validation is "
                             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                             0) == 0);
  CHECK(bad[1].message.rfind("Invalid value: \"-v-\": a valid label must be an empty string or consist of", 0) == 0);
  auto prefix = check_labels(Json::parse(R"({"Bad.Prefix/x":"v","/x":"v"})"), "l");
  REQUIRE(prefix.size() == 2);
  CHECK(prefix[0].message == "Invalid value: \"/x\": prefix part must be non-empty");
  CHECK(prefix[1].message.find("prefix part a lowercase RFC 1123 subdomain") != std::string::npos);
  auto long_value = check_labels(Json{{"k", std::string(64, 'v')}}, "l");
  REQUIRE(long_value.size() == 1);
  CHECK(long_value[0].message.find("must be no more than 63 characters") != std::string::npos);
  CHECK(check_labels(Json::parse(R"({"a/b/c":"v"})"), "l").at(0).message.find("a qualified name must consist of") !=
        std::string::npos);
  CHECK(check_labels(Json::parse(R"({"k":1})"), "l").size() == 1);

  // Annotation keys may use upper case; the total size is limited.
  CHECK(check_annotations(Json::parse(R"({"Example.COM/Note":"anything at all: ${}"})"), "a").empty());
  auto big = check_annotations(Json{{"k", std::string(256 * 1024, 'x')}}, "metadata.annotations");
  REQUIRE(big.size() == 1);
  CHECK(big[0].reason == "FieldValueTooLong");
  CHECK(big[0].message == "Too long: must have at most 262144 bytes");
}

TEST_CASE("object metadata") {
  CHECK(check_object_meta(Json::parse(R"({"name":"web-1","namespace":"default","labels":{"a":"b"}})"),
                          NameRule::Dns1123Subdomain, true)
            .empty());
  auto missing = check_object_meta(Json::object(), NameRule::Dns1123Subdomain, true);
  CHECK(messages(missing) == std::vector<std::string>{"metadata.name: Required value: name or generateName is required",
                                                      "metadata.namespace: Required value"});
  CHECK(missing[0].reason == "FieldValueRequired");
  // generateName may end in '-'.
  CHECK(check_object_meta(Json::parse(R"({"generateName":"web-"})"), NameRule::Dns1123Label, false).empty());
  CHECK(check_object_meta(Json::parse(R"({"generateName":"Web-"})"), NameRule::Dns1123Label, false).size() == 1);
  // Cluster-scoped objects: the namespace is not looked at.
  CHECK(check_object_meta(Json::parse(R"({"name":"n1","namespace":"Bad!"})"), NameRule::Dns1123Subdomain, false)
            .empty());
  auto bad_ns = check_object_meta(Json::parse(R"({"name":"x","namespace":"a.b"})"), NameRule::Dns1123Label, true);
  CHECK(messages(bad_ns) == std::vector<std::string>{"metadata.namespace: Invalid value: \"a.b\": must not contain dots"});
  CHECK(check_object_meta(Json::parse(R"({"name":"a.b"})"), NameRule::Dns1123Label, false).size() == 1);
  CHECK(check_object_meta(Json::parse(R"({"name":5})"), NameRule::Dns1123Label, false).size() == 1);
  CHECK(check_object_meta(Json::parse(R"({"name":"x","labels":{"k":"-"}})"), NameRule::Dns1123Label, false).size() == 1);
  CHECK(check_object_meta(Json(), NameRule::Dns1123Label, false).size() == 1);
}

TEST_CASE("pod spec") {
  auto good = Json::parse(R"({
    "containers": [{"name": "app", "image": "busybox", "ports": [{"containerPort": 80, "protocol": "UDP"}]}],
    "initContainers": [{"name": "init", "image": "busybox"}],
    "volumes": [{"name": "data"}, {"name": "cache"}],
    "restartPolicy": "OnFailure", "dnsPolicy": "ClusterFirstWithHostNet"})");
  CHECK(check_pod_spec(good, "spec").empty());

  CHECK(messages(check_pod_spec(Json::object(), "spec")) ==
        std::vector<std::string>{"spec.containers: Required value"});
  CHECK(messages(check_pod_spec(Json::parse(R"({"containers":[]})"), "spec.template.spec")) ==
        std::vector<std::string>{"spec.template.spec.containers: Required value"});

  auto bad = Json::parse(R"({
    "containers": [{"name": "App", "image": "x"}, {"name": "b", "ports": [{"containerPort": 70000},
                   {"containerPort": 1, "protocol": "ICMP"}, {}]}],
    "initContainers": [{"name": "b", "image": "x"}, {"image": "x"}],
    "volumes": [{"name": "v"}, {"name": "v"}, {}],
    "restartPolicy": "Sometimes", "dnsPolicy": "Google"})");
  auto causes = check_pod_spec(bad, "spec");
  auto got = messages(causes);
  const std::vector<std::string> want = {
      "spec.volumes[1].name: Duplicate value: \"v\"",
      "spec.volumes[2].name: Required value",
      std::string("spec.containers[0].name: Invalid value: \"App\": ") + kLabelRule,
      "spec.containers[1].image: Required value",
      "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      "spec.containers[1].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
      "spec.containers[1].ports[2].containerPort: Required value",
      "spec.initContainers[0].name: Duplicate value: \"b\"",
      "spec.initContainers[1].name: Required value",
      "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
      "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", "
      "\"Default\", \"None\"",
  };
  CHECK(got == want);
  std::set<std::string> reasons;
  for (const auto& c : causes) reasons.insert(c.reason);
  CHECK(reasons == std::set<std::string>{"FieldValueDuplicate", "FieldValueRequired", "FieldValueInvalid",
                                         "FieldValueNotSupported"});
  CHECK(check_pod_spec(Json("junk"), "spec").size() == 1);
}

TEST_CASE("field error builders print values as Go does") {
  CHECK(field_invalid("f", "a\"b", "x").message == "Invalid value: \"a\\\"b\": x");
  CHECK(field_invalid("f", 3, "x").message == "Invalid value: 3: x");
  CHECK(field_forbidden("f", "not allowed").message == "Forbidden: not allowed");
  CHECK(field_required("f").message == "Required value");
}

TEST_CASE("validation of junk never throws") {
  for (const char* text : {"null", "7", "[]", R"({"containers":[7,{"name":7,"image":[],"ports":[7,{"containerPort":"x",
        "protocol":5}]}],"initContainers":{},"volumes":[7],"restartPolicy":3,"dnsPolicy":""})"}) {
    const Json j = Json::parse(text);
    CHECK_NOTHROW(check_pod_spec(j, "spec"));
    CHECK_NOTHROW(check_object_meta(j, NameRule::Dns1123Subdomain, true));
    CHECK_NOTHROW(check_labels(j, "l"));
    CHECK_NOTHROW(check_annotations(j, "a"));
  }
  auto causes = check_pod_spec(Json::parse(R"({"containers":[{"name":"a","image":"i","ports":[{"containerPort":"x",
      "protocol":5}]}],"dnsPolicy":""})"), "spec");
  CHECK(causes.size() == 3);
}
