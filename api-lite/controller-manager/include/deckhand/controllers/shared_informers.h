// One informer per resource, shared by every controller that needs it:
// controllers subscribe their handlers before start(), and each change is
// handed to every subscriber in turn, on that informer's thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/informer.h"

namespace deckhand::controllers {

class SharedInformers {
 public:
  explicit SharedInformers(std::shared_ptr<client::ApiClient> api) : api_(std::move(api)) {}
  ~SharedInformers();
  SharedInformers(const SharedInformers&) = delete;
  SharedInformers& operator=(const SharedInformers&) = delete;

  // Before start(): ask for the resource's informer (and its handlers, optional).
  void subscribe(const client::Resource& r, client::InformerHandlers handlers = {});
  // Starts one informer per subscribed resource.
  void start();
  bool wait_for_sync(std::chrono::milliseconds timeout);
  // Stops every informer (no handler runs after this returns).
  void stop();

  // After start(): the local copy of a subscribed resource.
  std::optional<Json> get(const client::Resource& r, const std::string& key);
  // Every object, or those of one namespace.
  std::vector<Json> list(const client::Resource& r, const std::string& ns = "");
  bool has(const client::Resource& r) const { return entries_.count(key_of(r)) != 0; }

 private:
  struct Entry {
    client::Resource resource;
    std::vector<client::InformerHandlers> handlers;
    std::unique_ptr<client::Informer> informer;
  };
  static std::string key_of(const client::Resource& r) { return r.group + "/" + r.plural; }
  Entry* find(const client::Resource& r);

  std::shared_ptr<client::ApiClient> api_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

// The object of `owner` (a subscribed resource) that obj's controller
// reference names, when the local copy is that very one (the same uid).
std::optional<Json> controlling_owner(SharedInformers& informers, const client::Resource& owner, const Json& obj);

}  // namespace deckhand::controllers
