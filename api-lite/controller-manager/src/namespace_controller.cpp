#include "deckhand/controllers/namespace_controller.h"

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

namespace res = client::resources;

std::vector<client::Resource> deletable_resources(const Json& list, const std::string& group,
                                                  const std::string& version) {
  std::vector<client::Resource> out;
  const Json& resources = field(list, {"resources"});
  if (!resources.is_array()) return out;
  for (const auto& r : resources) {
    std::string plural = r.value("name", "");
    if (plural.empty() || plural.find('/') != std::string::npos || !r.value("namespaced", false)) continue;
    bool can_list = false, can_delete = false;
    if (r.contains("verbs") && r["verbs"].is_array())
      for (const auto& v : r["verbs"]) {
        if (v == "list") can_list = true;
        if (v == "delete") can_delete = true;
      }
    if (can_list && can_delete) out.push_back({group, version, plural, true, r.value("kind", "")});
  }
  return out;
}

NamespaceController::NamespaceController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers)
    : api_(std::move(api)),
      informers_(informers),
      workers_("namespace", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& ns) {
    if (is_terminating(ns)) queue_.add(client::object_key(ns));
  };
  informers_.subscribe(res::kNamespaces, {enqueue, [enqueue](const Json&, const Json& ns) { enqueue(ns); }, nullptr});
}

NamespaceController::~NamespaceController() { stop(); }

void NamespaceController::run(int workers) { workers_.start(workers); }
void NamespaceController::stop() { workers_.stop(); }

Result<std::vector<client::Resource>> NamespaceController::discover() {
  DH_TRY(core_text, api_->get_raw("/api/v1"));
  DH_TRY(core, parse_json(core_text, "/api/v1"));
  auto out = deletable_resources(core, "", "v1");
  DH_TRY(groups_text, api_->get_raw("/apis"));
  DH_TRY(groups, parse_json(groups_text, "/apis"));
  const Json& list = field(groups, {"groups"});
  if (!list.is_array()) return out;
  for (const auto& g : list) {
    std::string name = g.value("name", "");
    std::string version = string_field(g, {"preferredVersion", "version"});
    if (name.empty() || version.empty()) continue;
    DH_TRY(text, api_->get_raw("/apis/" + name + "/" + version));
    DH_TRY(resources, parse_json(text, "/apis/" + name + "/" + version));
    auto more = deletable_resources(resources, name, version);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

Result<size_t> NamespaceController::delete_contents(const std::string& ns) {
  DH_TRY(resources, discover());
  size_t left = 0;
  for (const auto& r : resources) {
    DH_TRY(list, with_context(api_->list(r, ns), "list {} in namespace {}", r.plural, ns));
    const Json& items = field(list, {"items"});
    if (!items.is_array()) continue;
    for (const auto& obj : items) {
      ++left;
      if (is_terminating(obj)) continue;
      auto st = api_->remove(r, ns, name_of(obj), {{"propagationPolicy", "Background"}});
      if (!st && st.error().kind != ErrorKind::NotFound)
        return tl::unexpected(st.error().context("delete {} {}/{}", r.plural, ns, name_of(obj)));
    }
  }
  return left;
}

Result<SyncResult> NamespaceController::sync(const std::string& key) {
  auto ns = informers_.get(res::kNamespaces, key);
  if (!ns || !is_terminating(*ns)) return SyncResult{};
  Json finalizers = field(*ns, {"spec", "finalizers"});
  bool ours = false;
  Json rest = Json::array();
  if (finalizers.is_array())
    for (const auto& f : finalizers) {
      if (f == "kubernetes") ours = true;
      else rest.push_back(f);
    }
  if (!ours) return SyncResult{};
  DH_TRY(left, delete_contents(key));
  if (left > 0) {
    // Deletions take a while (grace periods, finalizers): look again soon.
    log::get("controller-manager")->debug("namespace {}: {} objects left", key, left);
    return SyncResult{std::chrono::seconds(1)};
  }
  auto done = api_->patch(res::kNamespaces, "", key, client::PatchType::Merge, {{"spec", {{"finalizers", rest}}}},
                          "finalize");
  if (!done && done.error().kind != ErrorKind::NotFound)
    return tl::unexpected(done.error().context("finalize namespace {}", key));
  return SyncResult{};
}

}  // namespace deckhand::controllers
