#include "deckhand/cni/plugin.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/common/text.h"

extern char** environ;

namespace deckhand::cni {

namespace {

constexpr const char* kNewestVersion = "1.1.0";

std::string env_value(const std::map<std::string, std::string>& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

struct CommandNeeds {
  bool container_id, netns, ifname, path;
};

// Which CNI_* variables each command requires (spec 1.0.0 "Parameters", 1.1 for GC/STATUS).
std::optional<CommandNeeds> needs_of(const std::string& command) {
  if (command == "ADD" || command == "CHECK") return CommandNeeds{true, true, true, true};
  if (command == "DEL") return CommandNeeds{true, false, true, true};
  if (command == "GC" || command == "STATUS") return CommandNeeds{false, false, false, true};
  return std::nullopt;
}

// Container ids: alphanumerics first, then alphanumerics, '_', '.' and '-' (as libcni checks).
bool valid_container_id(std::string_view id) {
  auto ok = [](char c, bool first) {
    return std::isalnum(static_cast<unsigned char>(c)) || (!first && (c == '_' || c == '.' || c == '-'));
  };
  if (id.empty() || !ok(id[0], true)) return false;
  return std::all_of(id.begin() + 1, id.end(), [&](char c) { return ok(c, false); });
}

// Linux interface names: at most 15 bytes, not "." or "..", no '/', ':' or whitespace.
bool valid_ifname(std::string_view n) {
  if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
  return std::none_of(n.begin(), n.end(), [](char c) { return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)); });
}

CniStatus check_env(PluginRequest& req, const std::map<std::string, std::string>& env) {
  auto needs = needs_of(req.command);
  if (!needs) return cni_fail(kInvalidEnv, fmt::format("unknown CNI_COMMAND \"{}\"", req.command));
  std::vector<std::string> missing;
  auto want = [&](bool needed, const char* key, std::string& into) {
    into = env_value(env, key);
    if (needed && into.empty()) missing.push_back(key);
  };
  std::string path;
  want(needs->container_id, "CNI_CONTAINERID", req.container_id);
  want(needs->netns, "CNI_NETNS", req.netns);
  want(needs->ifname, "CNI_IFNAME", req.ifname);
  want(needs->path, "CNI_PATH", path);
  if (!missing.empty())
    return cni_fail(kInvalidEnv, fmt::format("required environment variables missing: {}", fmt::join(missing, ", ")));
  req.path = split_nonempty(path, ':');
  if (!req.container_id.empty() && !valid_container_id(req.container_id))
    return cni_fail(kInvalidEnv, fmt::format("CNI_CONTAINERID \"{}\" has invalid characters", req.container_id));
  if (!req.ifname.empty() && !valid_ifname(req.ifname))
    return cni_fail(kInvalidEnv, fmt::format("CNI_IFNAME \"{}\" is not a valid interface name", req.ifname));
  return {};
}

bool truthy(const std::string& v) { return v == "1" || ascii_iequals(v, "true"); }

CniStatus parse_args(PluginRequest& req) {
  for (const auto& pair : split_nonempty(req.args_text, ';')) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return cni_fail(kInvalidEnv, fmt::format("CNI_ARGS: \"{}\" is not KEY=VALUE", pair));
    std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "IgnoreUnknown") {
      req.ignore_unknown_args = truthy(value);
      continue;
    }
    req.args[key] = value;
  }
  return {};
}

CniStatus parse_config(PluginRequest& req, const std::string& stdin_text) {
  req.config = Json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (req.config.is_discarded() || !req.config.is_object())
    return cni_fail(kDecodingFailure, "network config on stdin is not a JSON object");
  auto v = req.config.find("cniVersion");
  if (v == req.config.end() || !v->is_string())
    return cni_fail(kIncompatibleVersion, "network config has no cniVersion",
                    fmt::format("supported versions: {}", fmt::join(supported_cni_versions(), ", ")));
  req.cni_version = v->get<std::string>();
  if (!is_supported_cni_version(req.cni_version))
    return cni_fail(kIncompatibleVersion, fmt::format("incompatible CNI version: config is \"{}\"", req.cni_version),
                    fmt::format("supported versions: {}", fmt::join(supported_cni_versions(), ", ")));
  if ((req.command == "GC" || req.command == "STATUS") && compare_cni_versions(req.cni_version, "1.1.0") < 0)
    return cni_fail(kIncompatibleVersion,
                    fmt::format("{} needs cniVersion 1.1.0 or later; config is \"{}\"", req.command, req.cni_version));
  if (auto n = req.config.find("name"); n != req.config.end() && n->is_string()) req.network_name = n->get<std::string>();
  auto prev = req.config.find("prevResult");
  if (prev != req.config.end() && !prev->is_null()) {
    auto parsed = NetworkResult::from_json(*prev);
    if (!parsed) return cni_fail(kDecodingFailure, "prevResult: " + parsed.error().msg);
    req.prev_result = std::move(*parsed);
  }
  return {};
}

CniStatus dispatch(const PluginHandlers& h, const PluginRequest& req, std::string& out) {
  if (req.command == "ADD") {
    if (!h.add) return cni_fail(kInternal, "this plugin does not implement ADD");
    DH_TRY(result, h.add(req));
    out = result.to_json(req.cni_version).dump() + "\n";
    return {};
  }
  const auto& handler = req.command == "DEL"     ? h.del
                        : req.command == "CHECK" ? h.check
                        : req.command == "GC"    ? h.gc
                                                 : h.status;
  if (req.command == "CHECK" && compare_cni_versions(req.cni_version, "0.4.0") < 0)
    return cni_fail(kIncompatibleVersion, fmt::format("CHECK needs cniVersion 0.4.0 or later; config is \"{}\"", req.cni_version));
  return handler ? handler(req) : CniStatus{};
}

std::string error_version(const PluginRequest& req) {
  return is_supported_cni_version(req.cni_version) ? req.cni_version : "1.0.0";
}

}  // namespace

int run_plugin_call(const PluginHandlers& handlers, const std::map<std::string, std::string>& env,
                    const std::string& stdin_text, std::string& out) {
  PluginRequest req;
  req.command = env_value(env, "CNI_COMMAND");
  if (req.command == "VERSION") {
    out = Json{{"cniVersion", kNewestVersion}, {"supportedVersions", supported_cni_versions()}}.dump() + "\n";
    return 0;
  }
  req.args_text = env_value(env, "CNI_ARGS");
  CniStatus st = req.command.empty() ? cni_fail(kInvalidEnv, "required environment variables missing: CNI_COMMAND")
                                     : check_env(req, env);
  if (st) st = parse_config(req, stdin_text);
  if (st) st = parse_args(req);
  if (st) st = dispatch(handlers, req, out);
  if (st) return 0;
  out = st.error().to_json(error_version(req)).dump() + "\n";
  return 1;
}

int plugin_main(const PluginHandlers& handlers) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.starts_with("CNI_")) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::string in;
  char buf[8192];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, stdin)) > 0;) in.append(buf, n);
  std::string out;
  int rc = run_plugin_call(handlers, env, in, out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return rc;
}

void plugin_warning(const std::string& text) {
  std::string line = "warning: " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

CniStatus check_args(const PluginRequest& req, const std::vector<std::string>& known) {
  if (req.ignore_unknown_args) return {};
  std::vector<std::string> unknown;
  for (const auto& [k, v] : req.args)
    if (std::find(known.begin(), known.end(), k) == known.end()) unknown.push_back(k);
  if (unknown.empty()) return {};
  return cni_fail(kInvalidEnv, fmt::format("CNI_ARGS: unknown keys {} (set IgnoreUnknown=1 to allow them)",
                                           fmt::join(unknown, ", ")));
}

Result<std::string> find_plugin(const std::string& type, const std::vector<std::string>& dirs) {
  if (type.empty() || type.find('/') != std::string::npos || type == "." || type == "..")
    return fail(ErrorKind::InvalidArgument, "invalid CNI plugin type \"{}\"", type);
  for (const auto& dir : dirs) {
    std::string path = fs::join(dir, type);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0) return path;
  }
  return fail(ErrorKind::NotFound, "CNI plugin \"{}\" not found in {}", type, fmt::join(dirs, ":"));
}

std::vector<std::string> cni_environment(const std::string& command, const std::string& container_id,
                                         const std::string& netns, const std::string& ifname,
                                         const std::string& args, const std::vector<std::string>& path) {
  std::vector<std::string> env;
  bool has_path = false;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("CNI_")) continue;
    if (kv.starts_with("PATH=")) has_path = true;
    env.emplace_back(kv);
  }
  if (!has_path) env.emplace_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.push_back("CNI_COMMAND=" + command);
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) env.push_back(std::string(key) + "=" + value);
  };
  add("CNI_CONTAINERID", container_id);
  add("CNI_NETNS", netns);
  add("CNI_IFNAME", ifname);
  add("CNI_ARGS", args);
  env.push_back(fmt::format("CNI_PATH={}", fmt::join(path, ":")));
  return env;
}

CniResult<Json> delegate(const PluginRequest& req, const std::string& type, const std::string& command,
                         const Json& config) {
  auto path = find_plugin(type, req.path);
  if (!path) return cni_fail(kInvalidNetworkConfig, path.error().message);
  RunOptions opts;
  opts.argv = {*path};
  // The delegate sees this call's CNI_* values, not whatever our own environment held.
  opts.env = cni_environment(command, req.container_id, req.netns, req.ifname, req.args_text, req.path);
  opts.stdin_data = config.dump();
  auto run = run_process(opts);
  if (!run) return cni_fail(kIoFailure, fmt::format("run {} {}: {}", type, command, run.error().message));
  Json parsed = Json::parse(run->out, nullptr, /*allow_exceptions=*/false);
  if (run->exit_code != 0) {
    if (auto e = CniError::from_json(parsed)) return tl::unexpected(std::move(*e));
    return cni_fail(kInternal, fmt::format("{} {} failed (exit {}): {}", type, command, run->exit_code,
                                           run->err.empty() ? run->out : run->err));
  }
  if (run->out.find_first_not_of(" \t\r\n") == std::string::npos) return Json();
  if (parsed.is_discarded())
    return cni_fail(kDecodingFailure, fmt::format("{} {} printed something that is not JSON", type, command));
  return parsed;
}

namespace {

CniResult<std::string> ipam_type(const PluginRequest& req) {
  auto ipam = req.config.find("ipam");
  if (ipam == req.config.end() || !ipam->is_object() || !ipam->contains("type") || !(*ipam)["type"].is_string() ||
      (*ipam)["type"].get<std::string>().empty())
    return cni_fail(kInvalidNetworkConfig, "network config has no ipam.type");
  return (*ipam)["type"].get<std::string>();
}

}  // namespace

CniResult<NetworkResult> ipam_add(const PluginRequest& req) {
  DH_TRY(type, ipam_type(req));
  DH_TRY(out, delegate(req, type, "ADD", req.config));
  auto converted = convert_result(out, "1.0.0");
  if (!converted) return cni_fail(kDecodingFailure, fmt::format("result of IPAM plugin {}: {}", type, converted.error().msg));
  return NetworkResult::from_json(*converted);
}

CniStatus ipam_call(const PluginRequest& req, const std::string& command) {
  DH_TRY(type, ipam_type(req));
  DH_TRY(out, delegate(req, type, command, req.config));
  (void)out;
  return {};
}

}  // namespace deckhand::cni
