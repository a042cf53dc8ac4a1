// The three patch formats of the Kubernetes API. Each works on a copy of the
// document, so a patch that fails half-way leaves nothing applied, and checks
// JSON types before touching a value, so no nlohmann exception is thrown
// (a catch at each entry point turns any we missed into an Internal error).
#include "deckhand/api/patch.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace deckhand::api {
namespace {

// ---------------------------------------------------------------------------
// RFC 6902 JSON patch over RFC 6901 JSON pointers.

using Pointer = std::vector<std::string>;

Result<Pointer> parse_pointer(const std::string& text) {
  Pointer tokens;
  if (text.empty()) return tokens;
  if (text[0] != '/') return fail(ErrorKind::InvalidArgument, "pointer does not start with \"/\"");
  std::string token;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
    } else if (text[i] != '~') {
      token += text[i];
    } else if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
      token += text[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      return fail(ErrorKind::InvalidArgument, "pointer has \"~\" not followed by 0 or 1");
    }
  }
  return tokens;
}

// An array index token: digits without a leading zero.
std::optional<size_t> parse_index(const std::string& token) {
  if (token.empty() || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  size_t index = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return index;
}

// The value at the first `count` tokens of the pointer, or nullptr.
Json* resolve(Json& doc, const Pointer& pointer, size_t count) {
  Json* at = &doc;
  for (size_t i = 0; i < count; ++i) {
    if (at->is_object()) {
      auto it = at->find(pointer[i]);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      auto index = parse_index(pointer[i]);
      if (!index || *index >= at->size()) return nullptr;
      at = &(*at)[*index];
    } else {
      return nullptr;
    }
  }
  return at;
}

Json* resolve(Json& doc, const Pointer& pointer) { return resolve(doc, pointer, pointer.size()); }

Status add_at(Json& doc, const Pointer& pointer, Json value) {
  if (pointer.empty()) {
    doc = std::move(value);
    return {};
  }
  Json* parent = resolve(doc, pointer, pointer.size() - 1);
  if (parent == nullptr) return fail(ErrorKind::InvalidArgument, "path not found");
  const std::string& last = pointer.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return {};
  }
  if (!parent->is_array()) return fail(ErrorKind::InvalidArgument, "parent is not an object or array");
  if (last == "-") {
    parent->push_back(std::move(value));
    return {};
  }
  auto index = parse_index(last);
  if (!index || *index > parent->size()) return fail(ErrorKind::InvalidArgument, "array index out of range");
  parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
  return {};
}

// Removes the value at the pointer and hands it back (move needs it).
Result<Json> remove_at(Json& doc, const Pointer& pointer) {
  if (pointer.empty()) return fail(ErrorKind::InvalidArgument, "cannot remove the whole document");
  Json* parent = resolve(doc, pointer, pointer.size() - 1);
  const std::string& last = pointer.back();
  if (parent != nullptr && parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) return fail(ErrorKind::InvalidArgument, "path not found");
    Json removed = std::move(*it);
    parent->erase(it);
    return removed;
  }
  if (parent != nullptr && parent->is_array()) {
    auto index = parse_index(last);
    if (!index || *index >= parent->size()) return fail(ErrorKind::InvalidArgument, "path not found");
    Json removed = std::move((*parent)[*index]);
    parent->erase(*index);
    return removed;
  }
  return fail(ErrorKind::InvalidArgument, "path not found");
}

bool is_proper_prefix(const Pointer& prefix, const Pointer& of) {
  return prefix.size() < of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

// Reads a string member of an operation; names the member when it is missing.
Result<std::string> string_member(const Json& op, const char* name) {
  auto it = op.find(name);
  if (it == op.end() || !it->is_string())
    return fail(ErrorKind::InvalidArgument, "missing string member \"{}\"", name);
  return it->get<std::string>();
}

Result<Json> value_member(const Json& op) {
  auto it = op.find("value");
  if (it == op.end()) return fail(ErrorKind::InvalidArgument, "missing member \"value\"");
  return *it;
}

Status apply_operation(Json& doc, const std::string& name, const Pointer& path, const Json& op) {
  if (name == "add") {
    DH_TRY(value, value_member(op));
    return add_at(doc, path, std::move(value));
  }
  if (name == "remove") return remove_at(doc, path).map([](Json&&) {});
  if (name == "replace") {
    DH_TRY(value, value_member(op));
    Json* target = resolve(doc, path);
    if (target == nullptr) return fail(ErrorKind::InvalidArgument, "path not found");
    *target = std::move(value);
    return {};
  }
  if (name == "test") {
    DH_TRY(value, value_member(op));
    Json* target = resolve(doc, path);
    if (target == nullptr) return fail(ErrorKind::InvalidArgument, "path not found");
    if (*target != value) return fail(ErrorKind::InvalidArgument, "test failed: the value differs");
    return {};
  }
  if (name == "move" || name == "copy") {
    DH_TRY(from_text, string_member(op, "from"));
    DH_TRY(from, parse_pointer(from_text));
    if (name == "copy") {
      Json* source = resolve(doc, from);
      if (source == nullptr) return fail(ErrorKind::InvalidArgument, "from path {} not found", from_text);
      return add_at(doc, path, Json(*source));
    }
    if (is_proper_prefix(from, path))
      return fail(ErrorKind::InvalidArgument, "cannot move {} into one of its children", from_text);
    DH_TRY(value, remove_at(doc, from));
    return add_at(doc, path, std::move(value));
  }
  return fail(ErrorKind::InvalidArgument, "unknown op \"{}\"", name);
}

Status apply_json_patch_in_place(Json& doc, const Json& patch) {
  if (!patch.is_array()) return fail(ErrorKind::InvalidArgument, "json patch: the patch is not an array");
  for (size_t i = 0; i < patch.size(); ++i) {
    const Json& op = patch[i];
    if (!op.is_object()) return fail(ErrorKind::InvalidArgument, "json patch operation {}: not an object", i);
    auto name = string_member(op, "op");
    auto path_text = string_member(op, "path");
    if (!name) return tl::unexpected(name.error().context("json patch operation {}", i));
    if (!path_text) return tl::unexpected(path_text.error().context("json patch operation {}", i));
    Status done = parse_pointer(*path_text).and_then([&](const Pointer& path) {
      return apply_operation(doc, *name, path, op);
    });
    if (!done)
      return tl::unexpected(done.error().context("json patch operation {} ({} {})", i, *name, *path_text));
  }
  return {};
}

// ---------------------------------------------------------------------------
// RFC 7386 merge patch.

constexpr int kMaxDepth = 512;  // deeper patches are refused instead of risking the stack

Status merge_patch_in_place(Json& target, const Json& patch, int depth) {
  if (depth > kMaxDepth) return fail(ErrorKind::InvalidArgument, "merge patch: nested too deeply");
  if (!patch.is_object()) {
    target = patch;
    return {};
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_null()) {
      target.erase(it.key());
    } else {
      DH_CHECK(merge_patch_in_place(target[it.key()], *it, depth + 1));
    }
  }
  return {};
}

// ---------------------------------------------------------------------------
// Strategic merge patch.
//
// A list field is named by its dotted path from the object's root, list
// elements being transparent: the env of a Deployment's containers is
// "spec.template.spec.containers.env". A list with a rule merges (by its
// merge key, or as a set of primitives when the key is empty); every other
// list is replaced by the patch's. Directive keys are only the four known
// ones; other keys starting with "$" (JSON schema "$ref" in a CRD) are data.

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

struct ListRule {
  std::string path;
  std::string merge_key;  // empty: a list of primitives merged as a set
};

void add_object_meta_rules(std::vector<ListRule>& rules, const std::string& meta) {
  rules.push_back({meta + ".finalizers", ""});
  rules.push_back({meta + ".ownerReferences", "uid"});
}

void add_pod_spec_rules(std::vector<ListRule>& rules, const std::string& spec) {
  for (const char* containers : {"containers", "initContainers", "ephemeralContainers"}) {
    std::string path = spec + "." + containers;
    rules.push_back({path, "name"});
    rules.push_back({path + ".ports", "containerPort"});
    rules.push_back({path + ".env", "name"});
    rules.push_back({path + ".volumeMounts", "mountPath"});
    rules.push_back({path + ".volumeDevices", "devicePath"});
  }
  rules.push_back({spec + ".volumes", "name"});
  rules.push_back({spec + ".imagePullSecrets", "name"});
  rules.push_back({spec + ".hostAliases", "ip"});
  rules.push_back({spec + ".topologySpreadConstraints", "topologyKey"});
  rules.push_back({spec + ".resourceClaims", "name"});
  rules.push_back({spec + ".schedulingGates", "name"});
}

// Where each built-in kind keeps a pod spec, and whether its status has
// conditions merged by type.
struct KindShape {
  std::string_view kind;
  std::string_view pod_template;  // path of the PodTemplateSpec, "" if none
  bool status_conditions;
};

constexpr KindShape kKindShapes[] = {
    {"Pod", "", true},
    {"PodTemplate", "template", false},
    {"Deployment", "spec.template", true},
    {"ReplicaSet", "spec.template", true},
    {"DaemonSet", "spec.template", true},
    {"StatefulSet", "spec.template", true},
    {"ReplicationController", "spec.template", true},
    {"Job", "spec.template", true},
    {"CronJob", "spec.jobTemplate.spec.template", false},
    {"Node", "", true},
    {"Namespace", "", true},
    {"PersistentVolumeClaim", "", true},
    {"Service", "", true},
};

std::vector<ListRule> list_rules_for(std::string_view kind) {
  std::vector<ListRule> rules;
  add_object_meta_rules(rules, "metadata");
  for (const KindShape& shape : kKindShapes) {
    if (shape.kind != kind) continue;
    if (!shape.pod_template.empty()) {
      std::string tmpl(shape.pod_template);
      add_object_meta_rules(rules, tmpl + ".metadata");
      add_pod_spec_rules(rules, tmpl + ".spec");
    }
    if (shape.status_conditions) rules.push_back({"status.conditions", "type"});
  }
  if (kind == "Pod") {
    add_pod_spec_rules(rules, "spec");
    rules.push_back({"status.podIPs", "ip"});
    rules.push_back({"status.hostIPs", "ip"});
  } else if (kind == "Node") {
    rules.push_back({"status.addresses", "type"});
  } else if (kind == "Service") {
    rules.push_back({"spec.ports", "port"});
  }
  return rules;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_directive_key(std::string_view key) {
  return key == kPatchDirective || key == kRetainKeys || starts_with(key, kSetElementOrder) ||
         starts_with(key, kDeleteFromPrimitiveList);
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

class StrategicMerge {
 public:
  explicit StrategicMerge(std::vector<ListRule> rules) : rules_(std::move(rules)) {}

  Result<Json> merge_map(Json original, const Json& patch, const std::string& path, int depth) const;

 private:
  template <typename... Args>
  static tl::unexpected<Error> fail_at(const std::string& path, fmt::format_string<Args...> f,
                                       Args&&... args) {
    return fail(ErrorKind::InvalidArgument, "strategic merge patch at {}: {}",
                path.empty() ? "the document root" : path, fmt::format(f, std::forward<Args>(args)...));
  }

  const ListRule* rule_for(const std::string& path) const {
    for (const ListRule& rule : rules_)
      if (rule.path == path) return &rule;
    return nullptr;
  }

  Result<Json> merge_value(const Json* original, const Json& patch, const Json* order,
                           const std::string& path, int depth) const;
  Result<Json> merge_list(Json original, const Json& patch, const Json* order, const std::string& path,
                          int depth) const;
  Result<Json> merge_primitive_list(Json original, const Json& patch, const Json* order,
                                    const std::string& path) const;
  Result<Json> merge_keyed_list(Json original, const Json& patch, const Json* order, const ListRule& rule,
                                int depth) const;
  Status retain_keys(Json& original, const Json& patch, const std::string& path) const;
  Status delete_from_primitive_lists(Json& original, const Json& patch, const std::string& path) const;
  Result<Json> order_only(const Json& original, const Json& order, const std::string& path) const;
  Result<std::vector<Json>> order_keys(const Json& order, const std::string& merge_key,
                                       const std::string& path) const;

  std::vector<ListRule> rules_;
};

// The identity of a list element: its merge key value, or itself for primitives.
Json element_key(const Json& element, const std::string& merge_key) {
  if (merge_key.empty()) return element;
  if (!element.is_object()) return nullptr;
  auto it = element.find(merge_key);
  return it == element.end() ? Json(nullptr) : *it;
}

// Puts the elements named in `order` first-class in that order and slots the
// others (left from the live list) back in by their live positions, as the
// Kubernetes API server does: an element in `order` goes before a live-only
// element unless both were in the live list and the live-only one came first.
Json apply_order(const Json& merged, const std::vector<Json>& order, const Json& live,
                 const std::string& merge_key) {
  std::map<Json, size_t> order_index, live_index;
  for (size_t i = 0; i < order.size(); ++i) order_index.emplace(order[i], i);
  for (size_t i = 0; i < live.size(); ++i) live_index.emplace(element_key(live[i], merge_key), i);

  std::vector<std::pair<size_t, const Json*>> ordered;
  std::vector<const Json*> live_only;
  for (const Json& element : merged) {
    auto it = order_index.find(element_key(element, merge_key));
    if (it != order_index.end()) {
      ordered.emplace_back(it->second, &element);
    } else {
      live_only.push_back(&element);
    }
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  auto live_position = [&](const Json& element) -> std::optional<size_t> {
    auto it = live_index.find(element_key(element, merge_key));
    if (it == live_index.end()) return std::nullopt;
    return it->second;
  };
  Json result = Json::array();
  size_t i = 0, j = 0;
  while (i < live_only.size() || j < ordered.size()) {
    bool take_live = j == ordered.size();
    if (i < live_only.size() && j < ordered.size()) {
      auto left = live_position(*live_only[i]);
      auto right = live_position(*ordered[j].second);
      take_live = left && right && *left < *right;
    }
    result.push_back(take_live ? *live_only[i++] : *ordered[j++].second);
  }
  return result;
}

Result<std::vector<Json>> StrategicMerge::order_keys(const Json& order, const std::string& merge_key,
                                                     const std::string& path) const {
  if (!order.is_array()) return fail_at(path, "$setElementOrder is not a list");
  std::vector<Json> keys;
  for (const Json& element : order) {
    Json key = element_key(element, merge_key);
    if (key.is_null()) return fail_at(path, "$setElementOrder element without merge key \"{}\"", merge_key);
    keys.push_back(std::move(key));
  }
  return keys;
}

// The patch's own elements must be named in $setElementOrder, in the same order.
bool follows_order(const std::vector<Json>& patch_keys, const std::vector<Json>& order) {
  size_t at = 0;
  for (const Json& key : patch_keys) {
    while (at < order.size() && order[at] != key) ++at;
    if (at == order.size()) return false;
    ++at;
  }
  return true;
}

Result<Json> StrategicMerge::merge_map(Json original, const Json& patch, const std::string& path,
                                       int depth) const {
  if (depth > kMaxDepth) return fail_at(path, "nested too deeply");
  if (!original.is_object()) original = Json::object();
  if (auto it = patch.find(kPatchDirective); it != patch.end()) {
    if (!it->is_string()) return fail_at(path, "$patch is not a string");
    const auto& directive = it->get_ref<const std::string&>();
    if (directive == "delete") return Json::object();
    if (directive == "replace") {
      Json rest = patch;
      rest.erase(kPatchDirective);
      return merge_map(Json::object(), rest, path, depth + 1);
    }
    if (directive != "merge") return fail_at(path, "unknown $patch directive \"{}\"", directive);
  }
  DH_CHECK(retain_keys(original, patch, path));
  DH_CHECK(delete_from_primitive_lists(original, patch, path));

  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    if (is_directive_key(key)) continue;
    if (it->is_null()) {
      original.erase(key);
      continue;
    }
    auto order_it = patch.find(std::string(kSetElementOrder) + key);
    const Json* order = order_it == patch.end() ? nullptr : &*order_it;
    auto existing = original.find(key);
    DH_TRY(merged, merge_value(existing == original.end() ? nullptr : &*existing, *it, order,
                               join_path(path, key), depth + 1));
    original[key] = std::move(merged);
  }

  // $setElementOrder for a list the patch leaves alone reorders the live list.
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!starts_with(it.key(), kSetElementOrder)) continue;
    std::string field = it.key().substr(kSetElementOrder.size());
    if (patch.contains(field)) continue;
    auto live = original.find(field);
    if (live == original.end() || !live->is_array()) continue;
    DH_TRY(reordered, order_only(*live, *it, join_path(path, field)));
    *live = std::move(reordered);
  }
  return original;
}

Result<Json> StrategicMerge::merge_value(const Json* original, const Json& patch, const Json* order,
                                         const std::string& path, int depth) const {
  if (patch.is_object())
    return merge_map(original != nullptr ? *original : Json::object(), patch, path, depth);
  if (patch.is_array())
    return merge_list(original != nullptr && original->is_array() ? *original : Json::array(), patch, order,
                      path, depth);
  return patch;
}

Result<Json> StrategicMerge::merge_list(Json original, const Json& patch, const Json* order,
                                        const std::string& path, int depth) const {
  const ListRule* rule = rule_for(path);
  if (rule == nullptr) {
    // Replaced wholesale; objects inside still lose their directives and nulls.
    Json replaced = Json::array();
    for (const Json& element : patch) {
      if (element.is_object()) {
        DH_TRY(clean, merge_map(Json::object(), element, path, depth + 1));
        replaced.push_back(std::move(clean));
      } else {
        replaced.push_back(element);
      }
    }
    return replaced;
  }
  if (rule->merge_key.empty()) return merge_primitive_list(std::move(original), patch, order, path);
  return merge_keyed_list(std::move(original), patch, order, *rule, depth);
}

Result<Json> StrategicMerge::merge_primitive_list(Json original, const Json& patch, const Json* order,
                                                  const std::string& path) const {
  std::vector<Json> patch_keys;
  for (const Json& element : patch) {
    if (element.is_object() || element.is_array())
      return fail_at(path, "list of values has a non-value element");
    patch_keys.push_back(element);
  }
  Json merged = original;
  std::set<Json> present(merged.begin(), merged.end());
  for (const Json& element : patch)
    if (present.insert(element).second) merged.push_back(element);

  std::vector<Json> keys = std::move(patch_keys);
  if (order != nullptr) {
    DH_TRY(order_list, order_keys(*order, "", path));
    if (!follows_order(keys, order_list)) return fail_at(path, "the list does not follow $setElementOrder");
    keys = std::move(order_list);
  }
  return apply_order(merged, keys, original, "");
}

Result<Json> StrategicMerge::merge_keyed_list(Json original, const Json& patch, const Json* order,
                                              const ListRule& rule, int depth) const {
  const std::string& path = rule.path;
  const std::string& key = rule.merge_key;
  std::vector<const Json*> elements;
  std::set<Json> deleted;
  bool replace = false;
  for (const Json& element : patch) {
    if (!element.is_object()) return fail_at(path, "element is not an object");
    auto directive = element.find(kPatchDirective);
    if (directive == element.end()) {
      auto name = element.find(key);
      if (name == element.end() || name->is_null())
        return fail_at(path, "element without merge key \"{}\"", key);
      elements.push_back(&element);
    } else if (*directive == "delete") {
      auto name = element.find(key);
      if (name == element.end()) return fail_at(path, "$patch: delete element without merge key \"{}\"", key);
      deleted.insert(*name);
    } else if (*directive == "replace") {
      replace = true;
    } else {
      return fail_at(path, "unsupported $patch directive {} in a list",
                     directive->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }

  Json merged = Json::array();
  if (!replace) {
    for (const Json& element : original)
      if (!deleted.count(element_key(element, key))) merged.push_back(element);
  }
  std::map<Json, size_t> position;
  for (size_t i = 0; i < merged.size(); ++i) position.emplace(element_key(merged[i], key), i);
  std::vector<Json> patch_keys;
  for (const Json* element : elements) {
    const Json& name = element->at(key);  // checked above
    patch_keys.push_back(name);
    auto found = position.find(name);
    if (found != position.end()) {
      DH_TRY(updated, merge_map(merged[found->second], *element, path, depth + 1));
      merged[found->second] = std::move(updated);
    } else {
      DH_TRY(added, merge_map(Json::object(), *element, path, depth + 1));
      position.emplace(name, merged.size());
      merged.push_back(std::move(added));
    }
  }

  std::vector<Json> keys = std::move(patch_keys);
  if (order != nullptr) {
    DH_TRY(order_list, order_keys(*order, key, path));
    if (!follows_order(keys, order_list)) return fail_at(path, "the list does not follow $setElementOrder");
    keys = std::move(order_list);
  }
  return apply_order(merged, keys, replace ? merged : original, key);
}

Result<Json> StrategicMerge::order_only(const Json& original, const Json& order,
                                        const std::string& path) const {
  const ListRule* rule = rule_for(path);
  if (rule == nullptr) return original;  // a replaced list has no order of its own to set
  DH_TRY(keys, order_keys(order, rule->merge_key, path));
  return apply_order(original, keys, original, rule->merge_key);
}

// $retainKeys lists the fields a map keeps (a union such as a Deployment's
// strategy): the others are cleared before the patch applies.
Status StrategicMerge::retain_keys(Json& original, const Json& patch, const std::string& path) const {
  auto it = patch.find(kRetainKeys);
  if (it == patch.end()) return {};
  if (!it->is_array()) return fail_at(path, "$retainKeys is not a list");
  std::set<std::string> keep;
  for (const Json& name : *it) {
    if (!name.is_string()) return fail_at(path, "$retainKeys has a non-string element");
    keep.insert(name.get<std::string>());
  }
  for (auto field = patch.begin(); field != patch.end(); ++field) {
    if (field->is_null() || is_directive_key(field.key())) continue;
    if (!keep.count(field.key()))
      return fail_at(path, "field \"{}\" is set but not in $retainKeys", field.key());
  }
  for (auto field = original.begin(); field != original.end();) {
    field = keep.count(field.key()) ? std::next(field) : original.erase(field);
  }
  return {};
}

Status StrategicMerge::delete_from_primitive_lists(Json& original, const Json& patch,
                                                   const std::string& path) const {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!starts_with(it.key(), kDeleteFromPrimitiveList)) continue;
    std::string field = it.key().substr(kDeleteFromPrimitiveList.size());
    if (!it->is_array()) return fail_at(join_path(path, field), "$deleteFromPrimitiveList is not a list");
    auto live = original.find(field);
    if (live == original.end() || !live->is_array()) continue;
    std::set<Json> doomed(it->begin(), it->end());
    Json kept = Json::array();
    for (const Json& element : *live)
      if (!doomed.count(element)) kept.push_back(element);
    *live = std::move(kept);
  }
  return {};
}

// Turns a nlohmann exception we failed to prevent into an error value.
template <typename F>
Result<Json> guarded(const char* what, F&& body) {
  try {
    return body();
  } catch (const Json::exception& e) {
    return fail(ErrorKind::Internal, "{}: unexpected JSON error: {}", what, e.what());
  }
}

}  // namespace

Result<Json> apply_json_patch(const Json& document, const Json& patch) {
  return guarded("json patch", [&]() -> Result<Json> {
    Json doc = document;
    DH_CHECK(apply_json_patch_in_place(doc, patch));
    return doc;
  });
}

Result<Json> apply_merge_patch(const Json& document, const Json& patch) {
  return guarded("merge patch", [&]() -> Result<Json> {
    Json doc = document;
    DH_CHECK(merge_patch_in_place(doc, patch, 0));
    return doc;
  });
}

// Kinds not in the table (custom resources and the like) get only the
// metadata list rules (finalizers, ownerReferences): every other list is
// replaced, as in a merge patch, while the directives still work.
Result<Json> apply_strategic_merge_patch(const Json& document, const Json& patch, const std::string& kind) {
  return guarded("strategic merge patch", [&]() -> Result<Json> {
    if (!patch.is_object())
      return fail(ErrorKind::InvalidArgument, "strategic merge patch: the patch is not a JSON object");
    if (!document.is_object())
      return fail(ErrorKind::InvalidArgument, "strategic merge patch: the document is not a JSON object");
    return StrategicMerge(list_rules_for(kind)).merge_map(document, patch, "", 0);
  });
}

}  // namespace deckhand::api
