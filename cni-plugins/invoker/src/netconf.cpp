#include "deckhand/cni/netconf.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <set>

#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::cni {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A string member, or "" when absent; an error when present with another type.
Result<std::string> string_field(const Json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  if (!it->is_string()) return fail(ErrorKind::InvalidArgument, "{}: \"{}\" is not a string", what, key);
  return it->get<std::string>();
}

bool bool_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

Status validate_plugin(const Json& p, size_t index, std::string_view what) {
  if (!p.is_object())
    return fail(ErrorKind::InvalidArgument, "{}: plugins[{}] is not an object", what, index);
  DH_TRY(type, string_field(p, "type", what));
  if (type.empty()) return fail(ErrorKind::InvalidArgument, "{}: plugins[{}] has no \"type\"", what, index);
  return {};
}

// A single plugin config becomes a list of one, carrying its name and version.
Result<Json> wrap_single(const Json& conf, std::string_view what) {
  if (!conf.is_object()) return fail(ErrorKind::InvalidArgument, "{}: not a JSON object", what);
  // A list put into a .conf file would otherwise fail later with a vaguer error.
  if (conf.contains("plugins"))
    return fail(ErrorKind::InvalidArgument, "{}: holds a config list; name it *.conflist", what);
  Json list = Json::object();
  if (auto it = conf.find("cniVersion"); it != conf.end()) list["cniVersion"] = *it;
  if (auto it = conf.find("name"); it != conf.end()) list["name"] = *it;
  list["plugins"] = Json::array({conf});
  return list;
}

// The config is read on every call (ready() runs often): warn about a bad
// file once per version of it (path, mtime, size), not on every call.
void warn_skipped(const std::string& file, const std::string& why) {
  static std::mutex mu;
  static std::set<std::string> warned;
  struct stat st {};
  (void)::stat(file.c_str(), &st);
  std::string key = fmt::format("{}:{}.{}:{}", file, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size);
  {
    std::lock_guard lock(mu);
    if (!warned.insert(key).second) return;
  }
  log::get("cni")->warn("skipping network config: {}", why);
}

}  // namespace

Result<NetworkList> network_list_from_json(const Json& raw, std::string_view what) {
  if (!raw.is_object()) return fail(ErrorKind::InvalidArgument, "{}: not a JSON object", what);
  NetworkList list;
  list.source = std::string(what);
  DH_TRY(name, string_field(raw, "name", what));
  DH_TRY(version, string_field(raw, "cniVersion", what));
  if (name.empty()) return fail(ErrorKind::InvalidArgument, "{}: no network \"name\"", what);
  if (version.empty()) return fail(ErrorKind::InvalidArgument, "{}: no \"cniVersion\"", what);
  if (!is_supported_cni_version(version))
    return fail(ErrorKind::InvalidArgument,
                "{}: unsupported cniVersion \"{}\" (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)", what,
                version);
  auto plugins = raw.find("plugins");
  if (plugins == raw.end() || !plugins->is_array() || plugins->empty())
    return fail(ErrorKind::InvalidArgument, "{}: no \"plugins\" in network {}", what, name);
  for (size_t i = 0; i < plugins->size(); ++i) {
    DH_CHECK(validate_plugin((*plugins)[i], i, what));
    list.plugins.push_back((*plugins)[i]);
  }
  list.name = std::move(name);
  list.cni_version = std::move(version);
  list.disable_check = bool_field(raw, "disableCheck");
  list.disable_gc = bool_field(raw, "disableGC");
  list.raw = raw;
  return list;
}

Result<NetworkList> parse_network_list(std::string_view text, std::string_view what, bool single_plugin) {
  DH_TRY(parsed, parse_json(text, what));
  if (!single_plugin) return network_list_from_json(parsed, what);
  DH_TRY(wrapped, wrap_single(parsed, what));
  return network_list_from_json(wrapped, what);
}

Result<NetworkList> load_network_list(const std::string& conf_dir) {
  DH_TRY(names, fs::list_dir(conf_dir));
  std::sort(names.begin(), names.end());
  std::string problems;
  for (const auto& name : names) {
    bool is_list = ends_with(name, ".conflist");
    if (!is_list && !ends_with(name, ".conf") && !ends_with(name, ".json")) continue;
    std::string file = fs::join(conf_dir, name);
    auto text = fs::read_file(file);
    auto list =
        text ? parse_network_list(*text, file, !is_list) : Result<NetworkList>(tl::unexpected(text.error()));
    if (list) return list;
    warn_skipped(file, list.error().message);
    problems += "; " + list.error().message;
  }
  if (problems.empty()) return fail(ErrorKind::FailedPrecondition, "no network config found in {}", conf_dir);
  return fail(ErrorKind::FailedPrecondition, "no valid network config in {}{}", conf_dir, problems);
}

Json plugin_stdin(const NetworkList& list, const Json& plugin, const Json& prev_result,
                  const Json& capability_args) {
  Json conf = plugin;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  // Only the capabilities the plugin declares reach it, as libcni does.
  auto caps = plugin.find("capabilities");
  if (caps != plugin.end() && caps->is_object() && capability_args.is_object()) {
    Json runtime = Json::object();
    for (auto& [cap, on] : caps->items()) {
      auto arg = capability_args.find(cap);
      if (on.is_boolean() && on.get<bool>() && arg != capability_args.end()) runtime[cap] = *arg;
    }
    if (!runtime.empty()) conf["runtimeConfig"] = std::move(runtime);
  }
  return conf;
}

std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace deckhand::cni
