// The write verbs of ApiHandler: create, update, patch, delete, and the
// subresources that write (status, scale, binding, eviction, finalize).
#include "api_handler.h"
#include "call.h"
#include "deckhand/api/patch.h"
#include "deckhand/api/selector.h"

namespace deckhand::apiserver {

namespace {

constexpr int kWriteAttempts = 8;

std::string random_suffix() {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  random_bytes(b, sizeof b);
  std::string s;
  for (unsigned char c : b) s += alphabet[c % (sizeof alphabet - 1)];
  return s;
}

// Everything but metadata and status, which is what metadata.generation counts.
Json spec_part(const Json& obj) {
  Json s = obj;
  for (const char* k : {"metadata", "status", "kind", "apiVersion"}) s.erase(k);
  return s;
}

bool has_status_subresource(const ResourceInfo& info) { return info.has_subresource("status"); }

std::string pod_qos_class(const Json& pod) {
  bool any = false, guaranteed = true;
  const Json spec = pod.value("spec", Json::object());
  for (const auto& c : spec.value("containers", Json::array())) {
    const Json res = c.is_object() ? c.value("resources", Json::object()) : Json::object();
    const Json req = res.value("requests", Json::object()), lim = res.value("limits", Json::object());
    if (!req.empty() || !lim.empty()) any = true;
    for (const char* r : {"cpu", "memory"})
      if (!lim.contains(r) || (req.contains(r) && req[r] != lim[r])) guaranteed = false;
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

bool json_has(const Json& o, const char* k) { return o.is_object() && o.contains(k) && !o[k].is_null(); }

Json finalizers_of(const Json& obj) {
  Json m = object_metadata(obj);
  return m.contains("finalizers") && m["finalizers"].is_array() ? m["finalizers"] : Json::array();
}

Json success(const std::string& name, const ResourceInfo& info) {
  api::StatusDetails d;
  d.name = name;
  d.group = info.group;
  d.kind = info.plural;
  return api::success_status(d);
}

}  // namespace

Json scale_of(const Json& obj) {
  Json m = object_metadata(obj);
  Json meta{{"name", m.value("name", "")}, {"namespace", m.value("namespace", "")}, {"uid", m.value("uid", "")},
            {"resourceVersion", m.value("resourceVersion", "")},
            {"creationTimestamp", m.value("creationTimestamp", "")}};
  Json spec = obj.value("spec", Json::object());
  Json status = obj.value("status", Json::object());
  std::string selector;
  if (spec.contains("selector"))
    if (auto s = api::LabelSelector::from_json(spec["selector"])) selector = s->to_string();
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", meta},
          {"spec", {{"replicas", spec.value("replicas", 0)}}},
          {"status", {{"replicas", status.value("replicas", 0)}, {"selector", selector}}}};
}

ApiResult<Json> ApiHandler::create_internal(const ResourceInfo& info, const std::string& ns, Json object) {
  http::Request req;
  req.method = "POST";
  req.body = object.dump();
  Call call{req, UserInfo{"system:apiserver", {"system:masters"}}};
  call.info = &info;
  call.ns = ns;
  call.verb = "create";
  API_TRY(r, create_object(call));
  return r.second;
}

ApiResult<std::pair<int, Json>> ApiHandler::create_object(Call& call) {
  const auto& info = *call.info;
  API_TRY(obj, parse_body(call.req));
  std::string api_version = obj.value("apiVersion", info.api_version());
  if (api_version != info.api_version() || obj.value("kind", info.kind) != info.kind)
    return api_fail(400, "BadRequest",
                    "the API version in the data (" + api_version + ") does not match the expected API version (" +
                        info.api_version() + ")");
  set_type_meta(info, obj);
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  Json& meta = obj["metadata"];
  if (info.namespaced) {
    if (json_has(meta, "namespace") && meta["namespace"] != call.ns)
      return api_fail(400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent on the request");
    meta["namespace"] = call.ns;
  } else {
    meta.erase("namespace");
  }
  bool generated = !json_has(meta, "name") && meta.contains("generateName") && meta["generateName"].is_string();
  std::string name_base = generated ? meta["generateName"].get<std::string>() : "";
  if (generated) meta["name"] = name_base + random_suffix();
  for (const char* k : {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"})
    meta.erase(k);
  meta["uid"] = new_uid();
  meta["creationTimestamp"] = now_rfc3339();
  if (info.has_spec_generation) meta["generation"] = 1;
  apply_defaults(info, obj);
  API_CHECK(validate(info, obj));
  std::string name = meta["name"].get<std::string>();
  if (info.namespaced) {
    cache_.wait_for(store_.current_revision(), std::chrono::seconds(5));
    auto ns_obj = cache_.get(find_resource("", "v1", "namespaces")->key("", call.ns));
    if (!ns_obj) return api_fail(api::not_found("namespaces", "", call.ns));
    if (json_has(object_metadata(*ns_obj), "deletionTimestamp")) {
      Json st = api::forbidden(call.user.name, "create", info.plural, info.group, name, call.ns);
      st["message"] = info.plural + " \"" + name + "\" is forbidden: unable to create new content in namespace " +
                      call.ns + " because it is being terminated";
      return api_fail(st);
    }
  }
  if (info.kind == "Pod") obj["status"] = {{"phase", "Pending"}, {"qosClass", pod_qos_class(obj)}};
  else if (info.kind == "Namespace") obj["status"] = {{"phase", "Active"}};
  else if (has_status_subresource(info) && info.kind != "Node") obj["status"] = Json::object();
  std::string allocated_ip;
  if (info.kind == "Service" && obj["spec"].value("clusterIP", "") != "None" &&
      obj["spec"].value("type", "ClusterIP") != "ExternalName") {
    API_TRY(ip, ips_.allocate(obj["spec"].value("clusterIP", "")));
    allocated_ip = ip;
    obj["spec"]["clusterIP"] = ip;
    obj["spec"]["clusterIPs"] = {ip};
    obj["spec"]["ipFamilies"] = {"IPv4"};
    obj["spec"]["ipFamilyPolicy"] = "SingleStack";
  }
  if (call.dry_run) {
    if (!allocated_ip.empty()) ips_.release(allocated_ip);
    return std::pair{201, obj};
  }
  for (int attempt = 0;; ++attempt) {
    name = meta["name"].get<std::string>();
    auto rev = store_.create(info.key(call.ns, name), obj.dump());
    if (rev) {
      meta["resourceVersion"] = std::to_string(*rev);
      return std::pair{201, obj};
    }
    if (generated && rev.error().kind == ErrorKind::AlreadyExists && attempt < 3) {
      meta["name"] = name_base + random_suffix();
      continue;
    }
    if (!allocated_ip.empty()) ips_.release(allocated_ip);
    return store_error(rev.error(), info, name);
  }
}

ApiResult<Json> ApiHandler::commit(Call& call, const Json& old, Json updated, store::Revision rev) {
  const auto& info = *call.info;
  Json& meta = updated["metadata"];
  const Json old_meta = object_metadata(old);
  if (meta.value("name", call.name) != call.name)
    return api_fail(400, "BadRequest",
                    "the name of the object (" + meta.value("name", "") + ") does not match the name on the URL (" +
                        call.name + ")");
  if (info.namespaced && meta.value("namespace", call.ns) != call.ns)
    return api_fail(400, "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request");
  for (const char* k : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation"}) {
    if (old_meta.contains(k)) meta[k] = old_meta[k];
    else meta.erase(k);
  }
  meta.erase("managedFields");
  meta.erase("selfLink");
  set_type_meta(info, updated);
  if (info.has_spec_generation && spec_part(old) != spec_part(updated))
    meta["generation"] = old_meta.value("generation", 0) + 1;
  if (call.sub.empty() || call.sub == "scale") {
    apply_defaults(info, updated);
    API_CHECK(validate(info, updated));
  }
  meta.erase("resourceVersion");
  if (call.dry_run) return updated;
  // A namespace also waits for its spec.finalizers (the namespace controller's "kubernetes").
  bool spec_finalized = info.kind != "Namespace" || !updated.contains("spec") || !updated["spec"].is_object() ||
                        updated["spec"].value("finalizers", Json::array()).empty();
  if (json_has(meta, "deletionTimestamp") && finalizers_of(updated).empty() && spec_finalized &&
      meta.value("deletionGracePeriodSeconds", 0) == 0) {
    auto del = store_.remove(call.key(), {rev});
    if (!del) return store_error(del.error(), info, call.name);
    meta["resourceVersion"] = std::to_string(*del);
    return updated;
  }
  auto r = store_.update(call.key(), updated.dump(), {rev});
  if (!r) return store_error(r.error(), info, call.name);
  meta["resourceVersion"] = std::to_string(*r);
  return updated;
}

ApiResult<Json> ApiHandler::read_modify_write(Call& call, const std::function<ApiResult<Json>(const Json&)>& change) {
  const auto& info = *call.info;
  for (int attempt = 0;; ++attempt) {
    auto kv = store_.get(call.key());
    if (!kv) return internal_error(kv.error());
    if (!*kv) return api_fail(api::not_found(info.plural, info.group, call.name));
    auto old = object_from_store((*kv)->value, (*kv)->mod_revision);
    if (!old) return internal_error(old.error());
    const Json& cur = **old;
    API_TRY(updated, change(cur));
    if (!updated.is_object()) return api_fail(400, "BadRequest", "the result is not a JSON object");
    if (!updated.contains("metadata") || !updated["metadata"].is_object()) updated["metadata"] = Json::object();
    std::string want_rv = meta_string(updated, "resourceVersion");
    std::string have_rv = std::to_string((*kv)->mod_revision);
    if (!want_rv.empty() && want_rv != have_rv)
      return store_error(Error{ErrorKind::FailedPrecondition, 0, ""}, info, call.name);
    auto r = commit(call, cur, std::move(updated), (*kv)->mod_revision);
    // Another write came between our read and commit: read and apply the change again. A
    // resourceVersion the client asked for is checked again above, so its conflict still shows.
    bool raced = !r && r.error().code == 409 && r.error().status.value("reason", "") == "Conflict";
    if (raced && attempt + 1 < kWriteAttempts) continue;
    return r;
  }
}

// New status from `incoming` on the old object; or the old status kept on a
// main-resource write.
static Json merge_by_subresource(const ResourceInfo& info, const std::string& sub, const Json& old, Json incoming) {
  if (sub == "status") {
    Json out = old;
    if (incoming.contains("status")) out["status"] = incoming["status"];
    if (incoming.contains("metadata") && incoming["metadata"].contains("resourceVersion"))
      out["metadata"]["resourceVersion"] = incoming["metadata"]["resourceVersion"];
    return out;
  }
  if (info.has_subresource("status") && info.kind != "Namespace") {
    if (old.contains("status")) incoming["status"] = old["status"];
    else incoming.erase("status");
  }
  return incoming;
}

static Json apply_scale(const Json& old, const Json& scale) {
  Json out = old;
  out["spec"]["replicas"] = scale.contains("spec") ? scale["spec"].value("replicas", 0) : 0;
  if (scale.contains("metadata") && scale["metadata"].contains("resourceVersion"))
    out["metadata"]["resourceVersion"] = scale["metadata"]["resourceVersion"];
  return out;
}

ApiResult<Json> ApiHandler::update_object(Call& call) {
  API_TRY(body, parse_body(call.req));
  if (call.sub == "finalize") {
    return read_modify_write(call, [&](const Json& old) -> ApiResult<Json> {
      Json out = old;
      out["spec"]["finalizers"] = body.contains("spec") ? body["spec"].value("finalizers", Json::array()) : Json::array();
      return out;
    });
  }
  auto r = read_modify_write(call, [&](const Json& old) -> ApiResult<Json> {
    if (call.sub == "scale") return apply_scale(old, body);
    return merge_by_subresource(*call.info, call.sub, old, body);
  });
  if (r && call.sub == "scale") return scale_of(*r);
  return r;
}

ApiResult<Json> ApiHandler::patch_object(Call& call) {
  const auto& info = *call.info;
  std::string type = call.req.header("content-type").value_or("");
  type = type.substr(0, type.find(';'));
  auto patch = parse_json(call.req.body, "patch");
  if (!patch) return api_fail(400, "BadRequest", patch.error().message);
  auto apply = [&](const Json& target) -> Result<Json> {
    if (type == "application/json-patch+json") return api::apply_json_patch(target, *patch);
    if (type == "application/merge-patch+json") return api::apply_merge_patch(target, *patch);
    if (type == "application/strategic-merge-patch+json")
      return api::apply_strategic_merge_patch(target, *patch, call.sub == "scale" ? "Scale" : info.kind);
    return fail(ErrorKind::Unimplemented, "the body of the request was in an unknown format - accepted media types "
                                          "include: application/json-patch+json, application/merge-patch+json, "
                                          "application/strategic-merge-patch+json");
  };
  auto r = read_modify_write(call, [&](const Json& old) -> ApiResult<Json> {
    Json target = call.sub == "scale" ? scale_of(old) : old;
    auto patched = apply(target);
    if (!patched) {
      if (patched.error().kind == ErrorKind::Unimplemented)
        return api_fail(415, "UnsupportedMediaType", patched.error().message);
      return api_fail(422, "Invalid", patched.error().message);
    }
    if (call.sub == "scale") return apply_scale(old, *patched);
    return merge_by_subresource(info, call.sub, old, std::move(*patched));
  });
  if (r && call.sub == "scale") return scale_of(*r);
  return r;
}

static Json delete_options(const http::Request& req) {
  Json opts = Json::object();
  if (!req.body.empty())
    if (auto b = parse_json(req.body, "DeleteOptions"); b && b->is_object()) opts = *b;
  if (auto g = req.query_param("gracePeriodSeconds"); g && !g->empty()) opts["gracePeriodSeconds"] = std::atoll(g->c_str());
  if (auto p = req.query_param("propagationPolicy"); p && !p->empty()) opts["propagationPolicy"] = *p;
  return opts;
}

ApiResult<std::pair<int, Json>> ApiHandler::delete_object(Call& call) {
  return delete_with(call, delete_options(call.req));
}

ApiResult<std::pair<int, Json>> ApiHandler::delete_with(Call& call, const Json& opts) {
  const auto& info = *call.info;
  for (int attempt = 0;; ++attempt) {
    auto kv = store_.get(call.key());
    if (!kv) return internal_error(kv.error());
    if (!*kv) return api_fail(api::not_found(info.plural, info.group, call.name));
    auto parsed = object_from_store((*kv)->value, (*kv)->mod_revision);
    if (!parsed) return internal_error(parsed.error());
    Json obj = **parsed;
    Json meta = object_metadata(obj);
    if (opts.contains("preconditions") && opts["preconditions"].is_object()) {
      const Json& pre = opts["preconditions"];
      if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != meta.value("uid", ""))
        return api_fail(api::conflict(info.plural, info.group, call.name,
                                      "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                                          ", UID in object meta: " + meta.value("uid", "")));
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
          pre["resourceVersion"] != meta.value("resourceVersion", ""))
        return api_fail(api::conflict(info.plural, info.group, call.name,
                                      "Precondition failed: ResourceVersion in precondition: " +
                                          pre["resourceVersion"].get<std::string>() +
                                          ", ResourceVersion in object meta: " + meta.value("resourceVersion", "")));
    }
    std::optional<int64_t> grace;
    if (opts.contains("gracePeriodSeconds") && opts["gracePeriodSeconds"].is_number_integer())
      grace = std::max<int64_t>(0, opts["gracePeriodSeconds"].get<int64_t>());
    std::string policy = opts.value("propagationPolicy", "");
    Json updated = obj;
    Json& um = updated["metadata"];
    bool keep = false;
    std::string phase = obj.contains("status") ? obj["status"].value("phase", "") : "";
    bool bound = obj.contains("spec") && !obj["spec"].value("nodeName", "").empty();
    if (info.kind == "Pod" && bound && phase != "Succeeded" && phase != "Failed") {
      int64_t g = grace.value_or(obj["spec"].value("terminationGracePeriodSeconds", int64_t{30}));
      if (g > 0) {
        if (json_has(meta, "deletionGracePeriodSeconds") && meta["deletionGracePeriodSeconds"].get<int64_t>() <= g)
          return std::pair{200, obj};
        um["deletionTimestamp"] = rfc3339_after(std::chrono::seconds(g));
        um["deletionGracePeriodSeconds"] = g;
        keep = true;
      }
    }
    if (policy == "Foreground" || policy == "Orphan") {
      std::string f = policy == "Foreground" ? "foregroundDeletion" : "orphan";
      Json fin = finalizers_of(obj);
      if (std::find(fin.begin(), fin.end(), f) == fin.end()) fin.push_back(f);
      um["finalizers"] = fin;
    }
    if (info.kind == "Namespace") {
      updated["status"]["phase"] = "Terminating";
      if (!updated["spec"].value("finalizers", Json::array()).empty()) keep = true;
    }
    if (!finalizers_of(updated).empty()) keep = true;
    if (keep) {
      if (!json_has(um, "deletionTimestamp")) um["deletionTimestamp"] = now_rfc3339();
      if (!json_has(um, "deletionGracePeriodSeconds")) um["deletionGracePeriodSeconds"] = 0;
      if (call.dry_run) return std::pair{200, updated};
      um.erase("resourceVersion");
      auto r = store_.update(call.key(), updated.dump(), {(*kv)->mod_revision});
      if (r) {
        um["resourceVersion"] = std::to_string(*r);
        return std::pair{200, updated};
      }
      if (r.error().kind == ErrorKind::FailedPrecondition && attempt + 1 < kWriteAttempts) continue;
      return store_error(r.error(), info, call.name);
    }
    if (call.dry_run) return std::pair{200, obj};
    auto r = store_.remove(call.key(), {(*kv)->mod_revision});
    if (r) {
      if (info.kind == "Service" && obj.contains("spec")) ips_.release(obj["spec"].value("clusterIP", ""));
      return std::pair{200, obj};
    }
    if (r.error().kind == ErrorKind::FailedPrecondition && attempt + 1 < kWriteAttempts) continue;
    return store_error(r.error(), info, call.name);
  }
}

ApiResult<Json> ApiHandler::delete_collection(Call& call) {
  http::Request list_req = call.req;
  list_req.query.erase(std::remove_if(list_req.query.begin(), list_req.query.end(),
                                      [](const auto& q) { return q.first == "limit" || q.first == "continue"; }),
                       list_req.query.end());
  Call list_call{list_req, call.user, call.info, call.ns};
  API_TRY(listing, select_objects(list_call));
  Json opts = delete_options(call.req);
  for (const auto& item : listing.items) {
    Call one{call.req, call.user, call.info, meta_string(*item.object, "namespace"), meta_string(*item.object, "name")};
    one.dry_run = call.dry_run;
    auto r = delete_with(one, opts);
    if (!r && r.error().code != 404) return tl::unexpected(r.error());
  }
  return success("", *call.info);
}

ApiResult<std::pair<int, Json>> ApiHandler::post_subresource(Call& call) {
  const auto& info = *call.info;
  API_TRY(body, parse_body(call.req));
  if (call.sub == "binding") {
    std::string node = body.contains("target") && body["target"].is_object() ? body["target"].value("name", "") : "";
    if (node.empty())
      return api_fail(api::invalid("Binding", "bindings", "", call.name,
                                   {{"target.name", "FieldValueRequired", "Required value"}}));
    Call pod_call = call;
    pod_call.sub = "status";  // a binding sets spec.nodeName, which no other write may
    API_TRY(bound, read_modify_write(pod_call, [&](const Json& old) -> ApiResult<Json> {
      std::string cur = old.contains("spec") ? old["spec"].value("nodeName", "") : "";
      if (!cur.empty())
        return api_fail(api::conflict(info.plural, info.group, call.name,
                                      "pod " + call.name + " is already assigned to node \"" + cur + "\""));
      if (json_has(object_metadata(old), "deletionTimestamp"))
        return api_fail(api::conflict(info.plural, info.group, call.name, "pod " + call.name + " is being deleted"));
      Json out = old;
      out["spec"]["nodeName"] = node;
      // PodScheduled=True replaces whatever the scheduler said before (Unschedulable).
      Json conds = Json::array();
      for (const Json& c : out["status"].value("conditions", Json::array()))
        if (!c.is_object() || c.value("type", "") != "PodScheduled") conds.push_back(c);
      conds.push_back({{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                       {"lastTransitionTime", now_rfc3339()}});
      out["status"]["conditions"] = conds;
      return out;
    }));
    (void)bound;
    return std::pair{201, success(call.name, info)};
  }
  if (call.sub == "eviction") {
    Json opts = body.value("deleteOptions", Json::object());
    API_TRY(r, delete_with(call, opts));
    (void)r;
    return std::pair{201, success(call.name, info)};
  }
  return api_fail(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

}  // namespace deckhand::apiserver
