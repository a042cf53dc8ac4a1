#include "referenced_objects.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

#include "local_api.h"

using namespace deckhand;
using namespace deckhand::agent;
using namespace deckhand::test;
using namespace std::chrono_literals;

TEST_CASE("the ConfigMaps and Secrets a pod refers to") {
  Json pod = {
      {"metadata", {{"namespace", "ns1"}, {"name", "p"}}},
      {"spec",
       {{"volumes",
         {{{"name", "a"}, {"configMap", {{"name", "cm-vol"}}}},
          {{"name", "b"}, {"secret", {{"secretName", "sec-vol"}}}},
          {{"name", "c"},
           {"projected", {{"sources", {{{"configMap", {{"name", "cm-proj"}}}}, {{"secret", {{"name", "sec-proj"}}}}}}}}}}},
        {"imagePullSecrets", {{{"name", "pull"}}}},
        {"containers",
         {{{"name", "main"},
           {"envFrom", {{{"configMapRef", {{"name", "cm-from"}}}}}},
           {"env", {{{"name", "X"}, {"valueFrom", {{"secretKeyRef", {{"name", "sec-key"}, {"key", "k"}}}}}}}}}}}}}};
  std::set<ObjectRef> want = {{"configmaps", "ns1", "cm-vol"}, {"configmaps", "ns1", "cm-proj"},
                              {"configmaps", "ns1", "cm-from"}, {"secrets", "ns1", "sec-vol"},
                              {"secrets", "ns1", "sec-proj"},   {"secrets", "ns1", "pull"},
                              {"secrets", "ns1", "sec-key"}};
  CHECK(referenced_objects(pod) == want);
  CHECK(referenced_objects(Json::object()).empty());
}

TEST_CASE("objects are read through a watch of their own, which reports changes, until no pod wants them") {
  LocalApi api("deckhand-agent-objects");
  std::mutex mu;
  std::vector<ObjectRef> changes;
  ReferencedObjects objects(api.client, [&](const ObjectRef& ref) {
    std::lock_guard lock(mu);
    changes.push_back(ref);
  });
  auto changed = [&] {
    std::lock_guard lock(mu);
    return changes.size();
  };

  auto missing = objects.get("configmaps", "default", "settings");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::NotFound);
  CHECK(objects.watch_count() == 1);

  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "settings"}}},
             {"data", {{"mode", "one"}}}};
  REQUIRE(api.client->create(client::resources::kConfigMaps, "default", cm));
  REQUIRE(eventually([&] { return changed() >= 1; }, 5s));  // the watch saw it come
  auto got = objects.get("configmaps", "default", "settings");
  REQUIRE(got);
  CHECK((*got)["data"]["mode"] == "one");
  {
    std::lock_guard lock(mu);
    CHECK(changes.back() == ObjectRef{"configmaps", "default", "settings"});
  }

  // Another object's change is not reported; this one's is, and reads follow.
  Json other = cm;
  other["metadata"]["name"] = "unrelated";
  REQUIRE(api.client->create(client::resources::kConfigMaps, "default", other));
  size_t before = changed();
  Json updated = *got;
  updated["data"]["mode"] = "two";
  REQUIRE(api.client->update(client::resources::kConfigMaps, updated));
  REQUIRE(eventually([&] { return changed() > before; }, 5s));
  CHECK(eventually([&] {
    auto now = objects.get("configmaps", "default", "settings");
    return now && (*now)["data"]["mode"] == "two";
  }, 5s));
  {
    std::lock_guard lock(mu);
    for (const auto& c : changes) CHECK(c.name == "settings");
  }

  objects.retain({{"configmaps", "default", "settings"}});
  CHECK(objects.watch_count() == 1);
  objects.retain({});
  CHECK(objects.watch_count() == 0);
}
