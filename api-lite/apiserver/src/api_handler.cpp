#include "api_handler.h"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "call.h"
#include "protobuf_body.h"
#include "deckhand/api/selector.h"
#include "deckhand/api/table.h"
#include "deckhand/common/log.h"
#include "deckhand/common/text.h"

namespace deckhand::apiserver {

namespace {

constexpr auto kConsistentReadWait = std::chrono::seconds(5);

const Json kVersion = {{"major", "1"},
                       {"minor", "33"},
                       {"gitVersion", "v1.33.0-deckhand"},
                       {"gitCommit", "deckhand"},
                       {"gitTreeState", "clean"},
                       {"buildDate", "2026-11-01T00:00:00Z"},
                       {"goVersion", "c++20"},
                       {"compiler", "gcc"},
                       {"platform", "linux/amd64"}};

void send_json(http::Responder& out, int code, const Json& body) {
  out.send({code, {{"Content-Type", "application/json"}}, body.dump() + "\n"});
}

void send_error(http::Responder& out, const ApiError& e) { send_json(out, e.code, e.status); }

ApiError no_such_path() {
  return api_fail(404, "NotFound", "the server could not find the requested resource").value();
}

bool wants_table(const http::Request& req) {
  auto accept = req.header("accept");
  return accept && accept->find("as=Table") != std::string::npos;
}

std::string k8s_verb(const http::Request& req, bool has_name) {
  if (req.method == "GET" || req.method == "HEAD") {
    auto w = req.query_param("watch");
    if (!has_name && w && (*w == "true" || *w == "1")) return "watch";
    return has_name ? "get" : "list";
  }
  if (req.method == "POST") return "create";
  if (req.method == "PUT") return "update";
  if (req.method == "PATCH") return "patch";
  if (req.method == "DELETE") return has_name ? "delete" : "deletecollection";
  return "";
}

// The name a list or watch is narrowed to with fieldSelector metadata.name=X
// (how a kubelet reads single secrets), for authorization.
std::optional<std::string> name_from_field_selector(const http::Request& req) {
  auto fs = req.query_param("fieldSelector");
  if (!fs) return std::nullopt;
  auto parsed = api::FieldSelector::parse(*fs);
  if (!parsed) return std::nullopt;
  for (const auto& r : parsed->requirements())
    if (r.field == "metadata.name" && r.equals) return r.value;
  return std::nullopt;
}

struct Selectors {
  api::LabelSelector labels;
  api::FieldSelector fields;
};

ApiResult<Selectors> parse_selectors(const http::Request& req, const ResourceInfo& info) {
  Selectors s;
  if (auto ls = req.query_param("labelSelector"); ls && !ls->empty()) {
    auto parsed = api::LabelSelector::parse(*ls);
    if (!parsed) return api_fail(400, "BadRequest", "unable to parse requirement: " + parsed.error().message);
    s.labels = std::move(*parsed);
  }
  if (auto fs = req.query_param("fieldSelector"); fs && !fs->empty()) {
    auto parsed = api::FieldSelector::parse(*fs);
    if (!parsed) return api_fail(400, "BadRequest", parsed.error().message);
    auto ok = parsed->check_supported(nullptr, api::supported_fields(info.plural));
    if (!ok) return api_fail(400, "BadRequest", ok.error().message);
    s.fields = std::move(*parsed);
  }
  return s;
}

bool selected(const Selectors& s, const ResourceInfo& info, const Json& obj) {
  if (!s.labels.empty() && !s.labels.matches_object(obj)) return false;
  if (!s.fields.empty() &&
      !s.fields.matches(obj, [&](const Json& o, const std::string& f) { return api::standard_field_value(info.plural, o, f); }))
    return false;
  return true;
}

std::string encode_continue(const std::string& key) { return Json{{"start", key}}.dump(); }

std::optional<std::string> decode_continue(const std::string& token) {
  auto j = parse_json(token, "continue token");
  if (!j || !j->is_object() || !(*j).contains("start") || !(*j)["start"].is_string()) return std::nullopt;
  return (*j)["start"].get<std::string>();
}

api::TableRequest table_request(const http::Request& req, const ResourceInfo& info) {
  api::TableRequest t;
  t.resource = info.plural;
  auto inc = req.query_param("includeObject");
  t.include_object_metadata = !inc || *inc == "Metadata";
  t.include_full_object = inc && *inc == "Object";
  return t;
}

}  // namespace

// ---- helpers shared with the write side (call.h) ----

std::string rfc3339_after(std::chrono::seconds s) {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_rfc3339() { return rfc3339_after(std::chrono::seconds(0)); }

void random_bytes(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) == 1) return;
  // OpenSSL's generator failing is near impossible; uids must still differ.
  std::random_device rd;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(rd());
}

std::string new_uid() {
  unsigned char b[16];
  random_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]);
}

Json object_metadata(const Json& obj) {
  return obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() ? obj["metadata"] : Json::object();
}

std::string meta_string(const Json& obj, const char* field) {
  Json m = object_metadata(obj);
  return m.contains(field) && m[field].is_string() ? m[field].get<std::string>() : "";
}

ApiResult<Json> parse_body(const http::Request& req) {
  // kubectl's `create namespace|configmap|secret|deployment|...` send protobuf.
  if (auto ct = req.header("content-type"); ct && ct->rfind("application/vnd.kubernetes.protobuf", 0) == 0) {
    auto obj = decode_protobuf_object(req.body);
    if (obj) return std::move(*obj);
    if (obj.error().message.find("not supported") != std::string::npos)
      return api_fail(415, "UnsupportedMediaType", obj.error().message);
    return api_fail(400, "BadRequest", obj.error().message);
  }
  auto j = parse_json(req.body, "request body");
  if (!j) return api_fail(400, "BadRequest", j.error().message);
  if (!j->is_object()) return api_fail(400, "BadRequest", "request body: want a JSON object");
  return std::move(*j);
}

tl::unexpected<ApiError> store_error(const Error& e, const ResourceInfo& info, const std::string& name) {
  switch (e.kind) {
    case ErrorKind::NotFound: return api_fail(api::not_found(info.plural, info.group, name));
    case ErrorKind::AlreadyExists: return api_fail(api::already_exists(info.plural, info.group, name));
    case ErrorKind::FailedPrecondition:
      return api_fail(api::conflict(info.plural, info.group, name,
                                    "the object has been modified; please apply your changes to the latest version "
                                    "and try again"));
    default: return internal_error(e);
  }
}

void set_type_meta(const ResourceInfo& info, Json& obj) {
  obj["apiVersion"] = info.api_version();
  obj["kind"] = info.kind;
}

// ---- ApiHandler ----

ApiHandler::ApiHandler(store::Store& store, WatchCache& cache, ClusterIpAllocator& ips, HandlerConfig config)
    : store_(store), cache_(cache), ips_(ips), config_(std::move(config)) {}

void ApiHandler::handle(const http::Request& req, http::Responder& out) {
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/livez" || p == "/readyz" || p.rfind("/healthz/", 0) == 0 ||
      p.rfind("/livez/", 0) == 0 || p.rfind("/readyz/", 0) == 0) {
    out.send({200, {{"Content-Type", "text/plain; charset=utf-8"}}, "ok"});
    return;
  }
  // Authentication.
  std::optional<UserInfo> user;
  if (req.peer.has_client_cert) user = UserInfo{req.peer.user, req.peer.groups};
  auto auth = req.header("authorization");
  if (!user && auth && auth->rfind("Bearer ", 0) == 0 && config_.tokens) user = config_.tokens->find(auth->substr(7));
  if (!user && !auth && config_.insecure_user) user = config_.insecure_user;
  if (p == "/version") {
    send_json(out, 200, kVersion);
    return;
  }
  if (!user) {
    send_error(out, api_fail(401, "Unauthorized", "Unauthorized").value());
    return;
  }
  if (p == "/api") return send_json(out, 200, core_api_versions());
  if (p == "/apis") return send_json(out, 200, api_group_list());
  if (p == "/openapi/v2") {
    // kubectl create/apply download this to validate client-side; an empty
    // document makes them accept every kind without a schema to check.
    out.send({200, {{"Content-Type", "application/octet-stream"}}, ""});
    return;
  }
  auto segs = split_nonempty(p, '/');
  std::string group, version;
  size_t rest = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    version = segs[1];
    rest = 2;
  } else if (segs.size() >= 2 && segs[0] == "apis") {
    group = segs[1];
    if (segs.size() == 2) {
      auto g = api_group(group);
      return g ? send_json(out, 200, *g)
               : send_error(out, no_such_path());
    }
    version = segs[2];
    rest = 3;
  } else {
    return send_error(out, no_such_path());
  }
  if (segs.size() == rest) {
    auto list = api_resource_list(group, version);
    return list ? send_json(out, 200, *list)
                : send_error(out, no_such_path());
  }
  Call call{req, *user};
  std::vector<std::string> r(segs.begin() + rest, segs.end());
  if (r.size() >= 3 && r[0] == "namespaces" && r[2] != "status" && r[2] != "finalize") {
    call.ns = r[1];
    r.erase(r.begin(), r.begin() + 2);
  }
  call.info = find_resource(group, version, r[0]);
  if (!call.info || r.size() > 3 || (!call.info->namespaced && !call.ns.empty()))
    return send_error(out, no_such_path());
  if (r.size() >= 2) call.name = r[1];
  if (r.size() == 3) call.sub = r[2];
  if (!call.sub.empty() && !call.info->has_subresource(call.sub))
    return send_error(out, no_such_path());
  call.verb = k8s_verb(req, !call.name.empty());
  if (call.verb.empty())
    return send_error(out, api_fail(405, "MethodNotAllowed", "the server does not allow this method on the requested resource").value());
  auto dry = req.query_param("dryRun");
  call.dry_run = dry && *dry == "All";
  serve_resource(call, out);
}

void ApiHandler::serve_resource(Call& call, http::Responder& out) {
  const auto& info = *call.info;
  if (info.namespaced && call.ns.empty() && call.verb != "list" && call.verb != "watch")
    return send_error(out, no_such_path());
  Json body;
  RequestAttributes attrs{call.verb, call.info, call.sub, call.ns, call.name,
                          name_from_field_selector(call.req).value_or(""), nullptr};
  if (call.verb == "create" && call.sub.empty()) {
    auto b = parse_body(call.req);
    if (b) {
      body = std::move(*b);
      attrs.body = &body;
    }
  }
  if (auto why = authorize(call.user, attrs, cache_)) {
    std::string resource = call.sub.empty() ? info.plural : info.plural + "/" + call.sub;
    Json st = api::forbidden(call.user.name, call.verb, resource, info.group, call.name, call.ns);
    st["message"] = st["message"].get<std::string>() + ": " + *why;
    return send_error(out, api_fail(st).value());
  }
  log::get("apiserver")->debug("{} {} {} ns={} name={} sub={}", call.user.name, call.verb, info.plural, call.ns,
                               call.name, call.sub);
  auto reply = [&](ApiResult<Json> r, int code = 200) {
    if (!r) return send_error(out, r.error());
    send_json(out, code, *r);
  };
  auto reply_pair = [&](ApiResult<std::pair<int, Json>> r) {
    if (!r) return send_error(out, r.error());
    send_json(out, r->first, r->second);
  };
  if (call.verb == "watch") return watch_objects(call, out);
  if (call.verb == "list") {
    auto text = list_objects(call);
    if (!text) return send_error(out, text.error());
    return out.send({200, {{"Content-Type", "application/json"}}, std::move(*text)});
  }
  if (call.verb == "get" && call.sub == "log") return proxy_pod_log(call, out);
  if (call.sub == "exec" || call.sub == "attach" || call.sub == "portforward")
    return send_error(out, api_fail(503, "ServiceUnavailable",
                                    "pod " + call.sub + " is not supported by deckhand-apiserver yet").value());
  if (call.verb == "get") return reply(get_object(call));
  if (call.verb == "create" && !call.sub.empty()) return reply_pair(post_subresource(call));
  if (call.verb == "create") return reply_pair(create_object(call));
  if (call.verb == "update") return reply(update_object(call));
  if (call.verb == "patch") return reply(patch_object(call));
  if (call.verb == "delete") return reply_pair(delete_object(call));
  if (call.verb == "deletecollection") return reply(delete_collection(call));
}

ApiResult<Json> ApiHandler::get_object(Call& call) {
  const auto& info = *call.info;
  auto rv = call.req.query_param("resourceVersion");
  if (!rv || *rv != "0") cache_.wait_for(store_.current_revision(), kConsistentReadWait);
  auto obj = cache_.get(call.key());
  if (!obj) return api_fail(api::not_found(info.plural, info.group, call.name));
  if (call.sub == "scale") return scale_of(*obj);
  if (wants_table(call.req)) return api::make_table(table_request(call.req, info), {*obj}, Json::object());
  return *obj;
}

void ApiHandler::proxy_pod_log(Call& call, http::Responder& out) {
  cache_.wait_for(store_.current_revision(), kConsistentReadWait);
  auto pod = cache_.get(call.key());
  if (!pod) return send_error(out, api_fail(api::not_found(call.info->plural, call.info->group, call.name)).value());
  std::optional<Json> node;
  std::string node_name =
      pod->contains("spec") && (*pod)["spec"].is_object() ? (*pod)["spec"].value("nodeName", "") : "";
  if (!node_name.empty())
    if (auto n = cache_.get(find_resource("", "v1", "nodes")->key("", node_name))) node = *n;
  auto url = pod_log_url(*pod, node, call.req);
  if (!url) return send_error(out, url.error());
  proxy_node_stream(config_.node_proxy, *url, out);
}

ApiResult<ApiHandler::Listing> ApiHandler::select_objects(Call& call) {
  const auto& info = *call.info;
  API_TRY(sel, parse_selectors(call.req, info));
  auto rv = call.req.query_param("resourceVersion");
  if (!rv || (*rv != "0" && !rv->empty())) cache_.wait_for(store_.current_revision(), kConsistentReadWait);
  auto snap = cache_.list(call.list_prefix());
  std::string start;
  if (auto c = call.req.query_param("continue"); c && !c->empty()) {
    auto s = decode_continue(*c);
    if (!s) return api_fail(400, "BadRequest", "continue token is not valid");
    start = *s;
  }
  int64_t limit = 0;
  if (auto l = call.req.query_param("limit"); l && !l->empty()) limit = std::atoll(l->c_str());
  Listing out;
  bool more = false;
  for (auto& item : snap.items) {
    if (!start.empty() && item.key <= start) continue;
    if (!selected(sel, info, *item.object)) continue;
    if (limit > 0 && static_cast<int64_t>(out.items.size()) == limit) {
      more = true;
      break;
    }
    out.items.push_back(std::move(item));
  }
  out.metadata = {{"resourceVersion", std::to_string(snap.revision)}};
  if (more) out.metadata["continue"] = encode_continue(out.items.back().key);
  return out;
}

ApiResult<std::string> ApiHandler::list_objects(Call& call) {
  const auto& info = *call.info;
  API_TRY(listing, select_objects(call));
  if (wants_table(call.req)) {
    std::vector<Json> objects;
    objects.reserve(listing.items.size());
    for (const auto& item : listing.items) objects.push_back(*item.object);
    return api::make_table(table_request(call.req, info), objects, listing.metadata).dump();
  }
  // Joined from the texts the cache keeps: a list of many objects is not
  // copied into one JSON value first.
  size_t size = 256;
  for (const auto& item : listing.items) size += item.text->size() + 1;
  std::string body;
  body.reserve(size);
  body += fmt::format(R"({{"kind":"{}List","apiVersion":"{}","metadata":{},"items":[)", info.kind,
                      info.api_version(), listing.metadata.dump());
  for (size_t i = 0; i < listing.items.size(); ++i) {
    if (i) body += ',';
    body += *listing.items[i].text;
  }
  body += "]}\n";
  return body;
}

void ApiHandler::watch_objects(Call& call, http::Responder& out) {
  const auto& info = *call.info;
  auto sel = parse_selectors(call.req, info);
  if (!sel) return send_error(out, sel.error());
  auto rv = call.req.query_param("resourceVersion").value_or("");
  std::shared_ptr<CacheWatcher> watcher;
  std::optional<Json> gone;
  if (rv.empty() || rv == "0") {
    watcher = cache_.watch_with_initial_state(call.list_prefix());
  } else {
    char* end = nullptr;
    long long after = std::strtoll(rv.c_str(), &end, 10);
    if (!end || *end || after < 0) return send_error(out, api_fail(400, "BadRequest", "invalid resourceVersion " + rv).value());
    auto w = cache_.watch(call.list_prefix(), after);
    if (w) watcher = *w;
    else gone = api::failure_status(410, "Expired", w.error().message);
  }
  bool table = wants_table(call.req);
  bool bookmarks = call.req.query_param("allowWatchBookmarks").value_or("") == "true";
  auto timeout = config_.max_watch_timeout;
  if (auto t = call.req.query_param("timeoutSeconds"); t && !t->empty())
    timeout = std::min(timeout, std::chrono::seconds(std::max(0LL, std::atoll(t->c_str()))));
  auto& stream = out.stream(200, {{"Content-Type", "application/json"}});
  if (gone) {
    stream.write(Json{{"type", "ERROR"}, {"object", *gone}}.dump() + "\n");
    return;
  }
  log::get("apiserver")->info("watch of {} opened for {} from resourceVersion '{}'", info.plural, call.user.name, rv);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto next_bookmark = std::chrono::steady_clock::now() + config_.bookmark_interval;
  auto tr = table_request(call.req, info);
  auto emit = [&](const char* type, const WatchEvent& e) {
    std::string object = table    ? api::make_table(tr, {*e.object}, Json::object()).dump()
                         : e.text ? *e.text
                                  : e.object->dump();
    return stream.write(fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", type, object));
  };
  bool open = true;
  // Checked before each wait, so a watch closed by the cache still sends
  // what was queued for it.
  bool last_round = false;
  while (open && !last_round && std::chrono::steady_clock::now() < deadline) {
    last_round = watcher->closed();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto events = watcher->next(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(500)));
    // A failed write notices a client that went away; a quiet watch asks.
    if (events.empty() && stream.client_gone()) break;
    for (const auto& e : events) {
      bool now_in = selected(*sel, info, *e.object);
      bool was_in = e.previous && selected(*sel, info, *e.previous);
      const char* type = watch_event_type_name(e.type);
      if (e.type == WatchEvent::Type::Modified) {
        if (!now_in && !was_in) continue;
        type = now_in && was_in ? "MODIFIED" : now_in ? "ADDED" : "DELETED";
      } else if (!now_in) {
        continue;
      }
      if (!(open = emit(type, e))) break;
    }
    if (open && bookmarks && std::chrono::steady_clock::now() >= next_bookmark) {
      Json bm{{"kind", info.kind}, {"apiVersion", info.api_version()},
              {"metadata", {{"resourceVersion", std::to_string(cache_.revision())}}}};
      open = stream.write(Json{{"type", "BOOKMARK"}, {"object", bm}}.dump() + "\n");
      next_bookmark = std::chrono::steady_clock::now() + config_.bookmark_interval;
    }
  }
  cache_.unwatch(watcher);
}

}  // namespace deckhand::apiserver
