#include <doctest/doctest.h>

#include "deckhand/api/status.h"

using namespace deckhand;
using namespace deckhand::api;

TEST_CASE("NotFound has Kubernetes' shape and wording") {
  Json s = not_found("pods", "", "web");
  CHECK(s == Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404})"));
  CHECK(not_found("deployments", "apps", "d")["message"] == "deployments.apps \"d\" not found");
  CHECK(not_found("deployments", "apps", "d")["details"]["group"] == "apps");
  CHECK(not_found("pods", "", "a\"b")["message"] == "pods \"a\\\"b\" not found");
}

TEST_CASE("AlreadyExists and Conflict") {
  Json exists = already_exists("pods", "", "web");
  CHECK(exists["code"] == 409);
  CHECK(exists["reason"] == "AlreadyExists");
  CHECK(exists["message"] == "pods \"web\" already exists");
  Json c = conflict("leases", "coordination.k8s.io", "sched",
                    "the object has been modified; please apply your changes to the latest version and try again");
  CHECK(c["code"] == 409);
  CHECK(c["reason"] == "Conflict");
  CHECK(c["message"] ==
        "Operation cannot be fulfilled on leases.coordination.k8s.io \"sched\": the object has been modified; please "
        "apply your changes to the latest version and try again");
  CHECK(c["details"] == Json::parse(R"({"name":"sched","group":"coordination.k8s.io","kind":"leases"})"));
}

TEST_CASE("Invalid: one cause bare, several in brackets, causes in details") {
  Json one = invalid("Pod", "pods", "", "x", {field_required("spec.containers")});
  CHECK(one["code"] == 422);
  CHECK(one["reason"] == "Invalid");
  CHECK(one["message"] == "Pod \"x\" is invalid: spec.containers: Required value");
  CHECK(one["details"] == Json::parse(R"({"name":"x","kind":"Pod","causes":[
      {"reason":"FieldValueRequired","message":"Required value","field":"spec.containers"}]})"));

  Json two = invalid("Deployment", "deployments", "apps", "d",
                     {field_required("spec.selector"), field_invalid("metadata.name", "D", "bad"),
                      field_required("spec.selector")});
  CHECK(two["message"] ==
        "Deployment.apps \"d\" is invalid: [spec.selector: Required value, metadata.name: Invalid value: \"D\": bad]");
  CHECK(two["details"]["causes"].size() == 3);
  CHECK(two["details"]["group"] == "apps");
  CHECK(invalid("Pod", "pods", "", "x", {})["message"] == "Pod \"x\" is invalid");
}

TEST_CASE("Forbidden wording for namespaced, cluster-scoped and list requests") {
  Json ns = forbidden("alice", "get", "pods", "", "web", "default");
  CHECK(ns["code"] == 403);
  CHECK(ns["reason"] == "Forbidden");
  CHECK(ns["message"] ==
        "pods \"web\" is forbidden: User \"alice\" cannot get resource \"pods\" in API group \"\" in the namespace "
        "\"default\"");
  CHECK(ns["details"] == Json::parse(R"({"name":"web","kind":"pods"})"));
  CHECK(forbidden("bob", "list", "nodes", "", "", "")["message"] ==
        "nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");
  CHECK(forbidden("bob", "create", "pods/exec", "", "p", "ns")["message"] ==
        "pods \"p\" is forbidden: User \"bob\" cannot create resource \"pods/exec\" in API group \"\" in the "
        "namespace \"ns\"");
  CHECK(forbidden("bob", "list", "deployments", "apps", "", "ns")["message"] ==
        "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" in "
        "the namespace \"ns\"");
}

TEST_CASE("other statuses") {
  CHECK(bad_request("nope") == Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"nope","reason":"BadRequest","code":400})"));
  Json gone = failure_status(410, "Expired", "too old resource version: 1 (5)");
  CHECK(gone["code"] == 410);
  CHECK(!gone.contains("details"));
  Json ok = success_status({"web", "", "pods", {}});
  CHECK(ok["status"] == "Success");
  CHECK(ok["details"]["name"] == "web");
  CHECK(!success_status().contains("details"));
}
