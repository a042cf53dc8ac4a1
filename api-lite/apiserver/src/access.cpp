#include "access.h"

#include <algorithm>

#include "deckhand/api/pod_references.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"

namespace deckhand::apiserver {

bool UserInfo::in_group(const std::string& g) const {
  return std::find(groups.begin(), groups.end(), g) != groups.end();
}

namespace {

// Splits one CSV line; quoted fields may hold commas.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

const std::string kNodePrefix = "system:node:";

bool pod_on_node(const Json& pod, const std::string& node) {
  return pod.contains("spec") && pod["spec"].is_object() && pod["spec"].value("nodeName", "") == node;
}

bool referenced_by_node_pod(WatchCache& cache, const std::string& node, const std::string& kind,
                            const std::string& ns, const std::string& name) {
  const ResourceInfo* pods = find_resource("", "v1", "pods");
  for (const auto& item : cache.list(pods->key_prefix() + ns + "/").items) {
    const Json& pod = *item.object;
    if (!pod_on_node(pod, node) || !pod.contains("spec")) continue;
    std::vector<std::string> refs = api::pod_referenced_names(pod["spec"], kind);
    if (std::find(refs.begin(), refs.end(), name) != refs.end()) return true;
  }
  return false;
}

bool is_read(const std::string& verb) { return verb == "get" || verb == "list" || verb == "watch"; }

std::optional<std::string> authorize_node(const std::string& node, const RequestAttributes& a, WatchCache& cache) {
  const std::string& r = a.resource ? a.resource->plural : "";
  const std::string deny = "node '" + node + "' may not do this";
  if (r == "pods") {
    if (is_read(a.verb) && a.subresource.empty()) return std::nullopt;
    if (a.verb == "create" && a.subresource.empty()) {  // mirror pods of its own static pods
      bool mirror = a.body && a.body->contains("metadata") && (*a.body)["metadata"].contains("annotations") &&
                    (*a.body)["metadata"]["annotations"].contains("kubernetes.io/config.mirror");
      if (mirror && a.body && pod_on_node(*a.body, node)) return std::nullopt;
      return "node '" + node + "' can only create mirror pods bound to itself";
    }
    auto pod = cache.get(a.resource->key(a.namespace_name, a.name));
    bool mine = pod && pod_on_node(*pod, node);
    if ((a.subresource == "status" && (a.verb == "update" || a.verb == "patch")) ||
        (a.subresource.empty() && a.verb == "delete") || a.subresource == "eviction")
      return mine ? std::nullopt : std::optional<std::string>("node '" + node + "' can only change pods bound to it");
    return deny;
  }
  if (r == "nodes") {
    if (is_read(a.verb)) return std::nullopt;
    if ((a.verb == "create" || a.verb == "update" || a.verb == "patch") && a.name == node) return std::nullopt;
    if (a.verb == "create" && a.body && a.body->contains("metadata") && (*a.body)["metadata"].value("name", "") == node)
      return std::nullopt;
    return "node '" + node + "' can only change its own Node object";
  }
  if (r == "leases") {
    if (a.namespace_name == "kube-node-lease" && (a.name == node || a.verb == "create")) return std::nullopt;
    return "node '" + node + "' can only use its own Lease in kube-node-lease";
  }
  if (r == "events") return a.verb == "create" || a.verb == "update" || a.verb == "patch" || is_read(a.verb)
                               ? std::nullopt
                               : std::optional<std::string>(deny);
  if (r == "services" || r == "endpoints") return is_read(a.verb) ? std::nullopt : std::optional<std::string>(deny);
  if (r == "configmaps" || r == "secrets") {
    std::string name = a.verb == "get" ? a.name : a.field_selector_name;
    if (is_read(a.verb) && !name.empty() && referenced_by_node_pod(cache, node, r, a.namespace_name, name))
      return std::nullopt;
    return "no relationship found between node '" + node + "' and this object";
  }
  return deny;
}

}  // namespace

Result<TokenFile> TokenFile::load(const std::string& path) {
  DH_TRY(text, fs::read_file(path));
  TokenFile f;
  int line_no = 0;
  for (auto line : split(text, '\n')) {
    ++line_no;
    std::string l(line);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.empty() || l[0] == '#') continue;
    auto fields = csv_fields(l);
    if (fields.size() < 3 || fields[0].empty() || fields[1].empty())
      return fail(ErrorKind::InvalidArgument, "token file {} line {}: want token,user,uid[,\"groups\"]", path, line_no);
    UserInfo u{fields[1], {}};
    if (fields.size() > 3)
      for (size_t i = 3; i < fields.size(); ++i)
        for (auto& g : split_nonempty(fields[i], ',')) u.groups.push_back(g);
    f.users_[fields[0]] = u;
  }
  return f;
}

std::optional<UserInfo> TokenFile::find(const std::string& token) const {
  auto it = users_.find(token);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> authorize(const UserInfo& user, const RequestAttributes& a, WatchCache& cache) {
  if (user.in_group("system:masters")) return std::nullopt;
  if (user.in_group("system:nodes") && user.name.rfind(kNodePrefix, 0) == 0)
    return authorize_node(user.name.substr(kNodePrefix.size()), a, cache);
  return "no rule allows it";
}

}  // namespace deckhand::apiserver
