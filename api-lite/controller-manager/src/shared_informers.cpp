#include "deckhand/controllers/shared_informers.h"

#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

SharedInformers::~SharedInformers() { stop(); }

void SharedInformers::subscribe(const client::Resource& r, client::InformerHandlers handlers) {
  auto& entry = entries_[key_of(r)];
  if (!entry) entry = std::make_unique<Entry>(Entry{r, {}, nullptr});
  entry->handlers.push_back(std::move(handlers));
}

void SharedInformers::start() {
  for (auto& [key, entry] : entries_) {
    Entry* e = entry.get();
    client::InformerHandlers fan_out;
    fan_out.on_add = [e](const Json& obj) {
      for (auto& h : e->handlers)
        if (h.on_add) h.on_add(obj);
    };
    fan_out.on_update = [e](const Json& old_obj, const Json& new_obj) {
      for (auto& h : e->handlers)
        if (h.on_update) h.on_update(old_obj, new_obj);
    };
    fan_out.on_delete = [e](const Json& last) {
      for (auto& h : e->handlers)
        if (h.on_delete) h.on_delete(last);
    };
    client::InformerOptions options;
    options.name = key;
    e->informer = client::Informer::start(client::make_list_watcher(api_, e->resource, ""), std::move(fan_out),
                                          options);
  }
}

bool SharedInformers::wait_for_sync(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& [key, entry] : entries_) {
    if (!entry->informer) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!entry->informer->wait_for_sync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void SharedInformers::stop() {
  for (auto& [key, entry] : entries_) entry->informer.reset();
}

SharedInformers::Entry* SharedInformers::find(const client::Resource& r) {
  auto it = entries_.find(key_of(r));
  return it == entries_.end() || !it->second->informer ? nullptr : it->second.get();
}

std::optional<Json> SharedInformers::get(const client::Resource& r, const std::string& key) {
  Entry* e = find(r);
  return e ? e->informer->get(key) : std::nullopt;
}

std::vector<Json> SharedInformers::list(const client::Resource& r, const std::string& ns) {
  Entry* e = find(r);
  if (!e) return {};
  std::vector<Json> all = e->informer->list();
  if (ns.empty()) return all;
  std::vector<Json> out;
  for (auto& obj : all)
    if (namespace_of(obj) == ns) out.push_back(std::move(obj));
  return out;
}

std::optional<Json> controlling_owner(SharedInformers& informers, const client::Resource& owner, const Json& obj) {
  auto ref = controller_ref(obj);
  if (!ref || ref->value("kind", "") != owner.kind) return std::nullopt;
  auto found = informers.get(owner, namespace_of(obj) + "/" + ref->value("name", ""));
  if (!found || uid_of(*found) != ref->value("uid", "")) return std::nullopt;
  return found;
}

}  // namespace deckhand::controllers
