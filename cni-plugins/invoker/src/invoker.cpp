#include "deckhand/cni/invoker.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <algorithm>
#include <set>
#include <utility>

#include "deckhand/cni/netconf.h"
#include "deckhand/cni/plugin_exec.h"
#include "deckhand/cni/result_cache.h"
#include "deckhand/common/log.h"

namespace deckhand::cni {

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("cni"); }

std::string plugin_type(const Json& plugin) { return plugin.at("type").get<std::string>(); }

// Ids and names become parts of file names and environment values.
Status validate_attachment(const Attachment& a, bool need_netns) {
  auto bad = [](const std::string& s) {
    return s.empty() || s.find_first_of("/\n=;") != std::string::npos || s == "." || s == "..";
  };
  if (bad(a.container_id))
    return fail(ErrorKind::InvalidArgument, "invalid container id \"{}\"", a.container_id);
  if (bad(a.ifname) || a.ifname.size() > 15)
    return fail(ErrorKind::InvalidArgument, "invalid interface name \"{}\"", a.ifname);
  if (need_netns && a.netns_path.empty())
    return fail(ErrorKind::InvalidArgument, "no network namespace for container {}", a.container_id);
  return {};
}

// DEL may come after the pinned namespace is gone, or after only its bind
// mount is gone (a plain file is left). CNI_NETNS is optional for DEL, and
// the reference plugins fail on a path that is not a namespace, so we send
// the path only when it still names one.
std::string netns_for_del(const std::string& path) {
  struct statfs st {};
  if (path.empty() || ::statfs(path.c_str(), &st) != 0 || st.f_type != NSFS_MAGIC) return {};
  return path;
}

bool has_prev_result_on_del(const NetworkList& list) {
  return compare_cni_versions(list.cni_version, "0.4.0") >= 0;
}

PluginEnv plugin_env(const InvokerConfig& c) { return PluginEnv{c.bin_dirs, c.plugin_timeout}; }

Status find_all_plugins(const NetworkList& list, const std::vector<std::string>& bin_dirs) {
  for (const auto& p : list.plugins) {
    auto found = find_plugin(plugin_type(p), bin_dirs);
    if (!found)
      return fail(ErrorKind::FailedPrecondition, "network {} ({}): {}", list.name, list.source,
                  found.error().message);
  }
  return {};
}

// What one attachment's calls share.
struct Invocation {
  const NetworkList& list;
  PluginEnv env;
  std::string container_id, ifname, args;
  Json capability_args;
};

PluginCall make_call(const Invocation& inv, const char* command, const std::string& netns, const Json& plugin,
                     const Json& prev_result) {
  return PluginCall{command,  inv.container_id,
                    netns,    inv.ifname,
                    inv.args, plugin_stdin(inv.list, plugin, prev_result, inv.capability_args)};
}

// DEL through the list in reverse order; stops at the first failure, as
// libcni does, so that a retry runs the whole list again.
Status run_del(const Invocation& inv, const std::string& netns, const Json& prev_result) {
  for (auto it = inv.list.plugins.rbegin(); it != inv.list.plugins.rend(); ++it) {
    auto r = run_plugin(plugin_type(*it), make_call(inv, "DEL", netns, *it, prev_result), inv.env);
    if (!r)
      return tl::unexpected(
          r.error().context("network {}: DEL container {}", inv.list.name, inv.container_id));
  }
  return {};
}

// After a failed ADD: DEL through the whole list so nothing is left behind.
void roll_back_add(const Invocation& inv, const std::string& netns, const Json& last_result) {
  Json prev = has_prev_result_on_del(inv.list) ? last_result : Json();
  auto st = run_del(inv, netns_for_del(netns), prev);
  if (!st) logger()->warn("container={} cleanup after failed ADD: {}", inv.container_id, st.error().message);
}

Result<Json> run_add_chain(const Invocation& inv, const std::string& netns) {
  Json result;
  for (const auto& plugin : inv.list.plugins) {
    std::string type = plugin_type(plugin);
    auto r = run_plugin(type, make_call(inv, "ADD", netns, plugin, result), inv.env);
    if (r && !r->is_object()) r = fail(ErrorKind::Internal, "CNI plugin {} ADD printed no result", type);
    if (!r) {
      roll_back_add(inv, netns, result);
      return tl::unexpected(
          r.error().context("network {}: ADD container {}", inv.list.name, inv.container_id));
    }
    result = std::move(*r);
  }
  return result;
}

// The attachment kept for ADD: under the current network's name first, else
// under any name (the config changed or went away since ADD).
std::optional<CachedAttachment> kept_attachment(const ResultCache& cache, const Result<NetworkList>& current,
                                                const Attachment& a) {
  std::optional<CachedAttachment> kept;
  if (current) kept = cache.get(current->name, a.container_id, a.ifname);
  if (!kept) kept = cache.find(a.container_id, a.ifname);
  return kept;
}

std::optional<NetworkList> kept_list(const ResultCache& cache, const CachedAttachment& kept) {
  std::string what = cache.path(kept.network_name, kept.container_id, kept.ifname);
  auto list = network_list_from_json(kept.config, what);
  if (list) return std::move(*list);
  logger()->warn("container={} kept config unusable: {}", kept.container_id, list.error().message);
  return std::nullopt;
}

}  // namespace

std::string cni_args(const Attachment& a) {
  return fmt::format(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
      a.pod_namespace, a.pod_name, a.container_id, a.pod_uid);
}

CniInvoker::CniInvoker(InvokerConfig config) : config_(std::move(config)) {}

Result<AddResult> CniInvoker::add(const Attachment& a) {
  DH_CHECK(validate_attachment(a, true));
  DH_TRY(list, load_network_list(config_.conf_dir));
  DH_CHECK(find_all_plugins(list, config_.bin_dirs));
  Invocation inv{list, plugin_env(config_), a.container_id, a.ifname, cni_args(a), a.capability_args};
  logger()->debug("container={} ADD network {} netns {}", a.container_id, list.name, a.netns_path);
  DH_TRY(result, run_add_chain(inv, a.netns_path));
  CachedAttachment kept{list.name, a.container_id, a.ifname, inv.args, a.capability_args, list.raw, result};
  if (auto st = ResultCache(config_.cache_dir).put(kept); !st) {
    roll_back_add(inv, a.netns_path, result);
    return tl::unexpected(st.error());
  }
  AddResult out{result, result_ips(result)};
  logger()->info("container={} attached to network {} ({})", a.container_id, list.name,
                 out.ips.empty() ? std::string("no address") : out.ips.front());
  return out;
}

Status CniInvoker::del(const Attachment& a) {
  DH_CHECK(validate_attachment(a, false));
  ResultCache cache(config_.cache_dir);
  auto current = load_network_list(config_.conf_dir);
  auto kept = kept_attachment(cache, current, a);
  // DEL undoes what ADD did: with the config ADD used when we kept it.
  std::optional<NetworkList> list = kept ? kept_list(cache, *kept) : std::nullopt;
  if (!list && current) list = *current;
  if (!list) {
    logger()->info("container={} DEL: no network config and no kept result; nothing to do", a.container_id);
    return {};
  }
  Json prev = kept && has_prev_result_on_del(*list) ? kept->result : Json();
  Invocation inv{*list,
                 plugin_env(config_),
                 a.container_id,
                 a.ifname,
                 kept ? kept->cni_args : cni_args(a),
                 kept ? kept->capability_args : a.capability_args};
  DH_CHECK(run_del(inv, netns_for_del(a.netns_path), prev));
  if (kept) DH_CHECK(cache.remove(kept->network_name, a.container_id, a.ifname));
  DH_CHECK(cache.remove(list->name, a.container_id, a.ifname));
  logger()->info("container={} detached from network {}", a.container_id, list->name);
  return {};
}

Status CniInvoker::check(const Attachment& a) {
  DH_CHECK(validate_attachment(a, true));
  ResultCache cache(config_.cache_dir);
  auto kept = kept_attachment(cache, load_network_list(config_.conf_dir), a);
  if (!kept)
    return fail(ErrorKind::NotFound, "CHECK: no kept CNI result for container {} {}", a.container_id,
                a.ifname);
  auto list = kept_list(cache, *kept);
  if (!list)
    return fail(ErrorKind::FailedPrecondition, "CHECK: kept config of container {} unusable", a.container_id);
  if (compare_cni_versions(list->cni_version, "0.4.0") < 0)
    return fail(ErrorKind::Unimplemented, "network {}: cniVersion {} has no CHECK", list->name,
                list->cni_version);
  if (list->disable_check) return {};
  Invocation inv{*list, plugin_env(config_), a.container_id, a.ifname, kept->cni_args, kept->capability_args};
  for (const auto& plugin : list->plugins) {
    auto r =
        run_plugin(plugin_type(plugin), make_call(inv, "CHECK", a.netns_path, plugin, kept->result), inv.env);
    if (!r)
      return tl::unexpected(r.error().context("network {}: CHECK container {}", list->name, a.container_id));
  }
  return {};
}

Status CniInvoker::ready() const {
  auto list = load_network_list(config_.conf_dir);
  if (!list) return fail(ErrorKind::FailedPrecondition, "cni config uninitialized: {}", list.error().message);
  auto found = find_all_plugins(*list, config_.bin_dirs);
  if (!found)
    return fail(ErrorKind::FailedPrecondition, "cni plugin not initialized: {}", found.error().message);
  return {};
}

Status CniInvoker::validate() const {
  DH_CHECK(ready());
  DH_TRY(list, load_network_list(config_.conf_dir));
  for (const auto& plugin : list.plugins) {
    std::string type = plugin_type(plugin);
    PluginCall call{"VERSION", "", "", "", "", Json{{"cniVersion", list.cni_version}}};
    DH_TRY(info, run_plugin(type, call, plugin_env(config_)));
    auto versions = info.is_object() ? info.find("supportedVersions") : info.end();
    bool supported = info.is_object() && versions != info.end() && versions->is_array() &&
                     std::find(versions->begin(), versions->end(), Json(list.cni_version)) != versions->end();
    if (!supported)
      return fail(ErrorKind::FailedPrecondition,
                  "network {}: CNI plugin {} does not support cniVersion {} (VERSION: {})", list.name, type,
                  list.cni_version, json_text(info));
  }
  return {};
}

Status CniInvoker::gc(const std::vector<Attachment>& valid) {
  DH_TRY(list, load_network_list(config_.conf_dir));
  if (list.disable_gc) return {};
  std::set<std::pair<std::string, std::string>> keep;
  Json attachments = Json::array();
  for (const auto& a : valid) {
    keep.emplace(a.container_id, a.ifname);
    attachments.push_back(Json{{"containerID", a.container_id}, {"ifname", a.ifname}});
  }
  Status first_error;
  for (const auto& kept : ResultCache(config_.cache_dir).all()) {
    if (kept.network_name != list.name || keep.count({kept.container_id, kept.ifname})) continue;
    Attachment stale;
    stale.container_id = kept.container_id;
    stale.ifname = kept.ifname;
    auto st = del(stale);
    if (!st && first_error) first_error = st;
  }
  if (compare_cni_versions(list.cni_version, "1.1.0") < 0) return first_error;
  for (const auto& plugin : list.plugins) {
    Json conf = plugin_stdin(list, plugin, Json(), Json::object());
    conf["cni.dev/valid-attachments"] = attachments;
    auto r = run_plugin(plugin_type(plugin), PluginCall{"GC", "", "", "", "", conf}, plugin_env(config_));
    if (!r && first_error) first_error = tl::unexpected(r.error().context("network {}: GC", list.name));
  }
  return first_error;
}

Status CniInvoker::status() const {
  DH_CHECK(ready());
  DH_TRY(list, load_network_list(config_.conf_dir));
  if (compare_cni_versions(list.cni_version, "1.1.0") < 0) return {};
  for (const auto& plugin : list.plugins) {
    Json conf = plugin_stdin(list, plugin, Json(), Json::object());
    auto r = run_plugin(plugin_type(plugin), PluginCall{"STATUS", "", "", "", "", conf}, plugin_env(config_));
    if (!r) return tl::unexpected(r.error().context("network {}: STATUS", list.name));
  }
  return {};
}

std::string CniInvoker::network_name() const {
  auto list = load_network_list(config_.conf_dir);
  return list ? list->name : std::string();
}

}  // namespace deckhand::cni
