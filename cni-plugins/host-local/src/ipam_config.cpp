#include "ipam_config.h"

#include "config_fields.h"
#include "deckhand/common/text.h"

namespace deckhand::cni::host_local {

namespace {

CniStatus check_network_name(const std::string& name) {
  if (name.empty()) return cni_fail(kInvalidNetworkConfig, "network config has no name");
  // The name becomes a directory name under dataDir.
  if (name == "." || name == ".." || name.find('/') != std::string::npos)
    return cni_fail(kInvalidNetworkConfig, fmt::format("network name \"{}\" cannot name a directory", name));
  return {};
}

// The legacy range (subnet etc. directly in ipam) counts only with a subnet, as in the reference.
CniResult<std::vector<RangeSet>> parse_range_sets(const Json& ipam) {
  std::vector<const Json*> sources;
  Json legacy;
  if (find_member(ipam, "subnet")) {
    legacy = Json::array({ipam});
    sources.push_back(&legacy);
  }
  const Json* ranges = find_member(ipam, "ranges");
  if (ranges && !ranges->is_array()) return cni_fail(kDecodingFailure, "ipam.ranges is not a list of range sets");
  if (ranges)
    for (const auto& set : *ranges) sources.push_back(&set);
  if (sources.empty()) return cni_fail(kInvalidNetworkConfig, "no IP ranges specified");

  std::vector<RangeSet> sets;
  for (size_t i = 0; i < sources.size(); ++i) {
    auto set = parse_range_set(*sources[i], fmt::format("ipam.ranges[{}]", i));
    if (!set) return cni_fail(set.error().code, fmt::format("invalid range set {}: {}", i, set.error().msg));
    for (size_t j = 0; j < sets.size(); ++j)
      if (sets[j].overlaps(*set)) return cni_fail(kInvalidNetworkConfig, fmt::format("range set {} overlaps with {}", j, i));
    sets.push_back(std::move(*set));
  }
  return sets;
}

CniResult<ResultRoute> parse_route(const Json& j, const std::string& where) {
  if (!j.is_object()) return cni_fail(kDecodingFailure, fmt::format("{} is not an object", where));
  DH_TRY(dst, optional_string(j, "dst", where));
  DH_TRY(gw, optional_string(j, "gw", where));
  if (!dst) return cni_fail(kInvalidNetworkConfig, fmt::format("{} has no dst", where));
  auto prefix = IpPrefix::parse(*dst);
  if (!prefix) return cni_fail(kInvalidNetworkConfig, fmt::format("invalid route dst: {}", prefix.error().message));
  // Re-formatted as the reference prints a parsed route, host bits of dst kept.
  ResultRoute route{prefix->str(), ""};
  if (gw) {
    auto ip = IpAddress::parse(*gw);
    if (!ip) return cni_fail(kInvalidNetworkConfig, fmt::format("invalid route gw: {}", ip.error().message));
    route.gw = ip->str();
  }
  return route;
}

CniResult<std::vector<ResultRoute>> parse_routes(const Json& ipam) {
  std::vector<ResultRoute> routes;
  const Json* list = find_member(ipam, "routes");
  if (!list) return routes;
  if (!list->is_array()) return cni_fail(kDecodingFailure, "ipam.routes is not a list");
  for (size_t i = 0; i < list->size(); ++i) {
    DH_TRY(route, parse_route((*list)[i], fmt::format("ipam.routes[{}]", i)));
    routes.push_back(std::move(route));
  }
  return routes;
}

// A requested address, bare or in CIDR form (the "ips" capability sends "10.1.0.5/24").
CniResult<IpAddress> parse_requested(const std::string& text, int code, const std::string& where) {
  auto p = IpPrefix::parse(text, /*allow_bare=*/true);
  if (!p) return cni_fail(code, fmt::format("{}: invalid IP address \"{}\"", where, text));
  return p->address;
}

CniStatus add_requested_list(const Json* list, const std::string& where, std::vector<IpAddress>& out) {
  if (!list) return {};
  if (!list->is_array()) return cni_fail(kDecodingFailure, fmt::format("{} is not a list", where));
  for (const auto& item : *list) {
    if (!item.is_string()) return cni_fail(kDecodingFailure, fmt::format("{} holds a non-string", where));
    DH_TRY(ip, parse_requested(item.get<std::string>(), kInvalidNetworkConfig, where));
    out.push_back(ip);
  }
  return {};
}

CniResult<std::vector<IpAddress>> requested_ips(const PluginRequest& req) {
  std::vector<IpAddress> out;
  if (auto it = req.args.find("IP"); it != req.args.end())
    for (const auto& text : split_nonempty(it->second, ',')) {
      DH_TRY(ip, parse_requested(text, kInvalidEnv, "CNI_ARGS IP"));
      out.push_back(ip);
    }
  const Json* runtime = find_member(req.config, "runtimeConfig");
  DH_CHECK(add_requested_list(runtime ? find_member(*runtime, "ips") : nullptr, "runtimeConfig.ips", out));
  const Json* args = find_member(req.config, "args");
  const Json* cni_args = args ? find_member(*args, "cni") : nullptr;
  DH_CHECK(add_requested_list(cni_args ? find_member(*cni_args, "ips") : nullptr, "args.cni.ips", out));
  return out;
}

}  // namespace

CniResult<IpamConfig> load_ipam_config(const PluginRequest& req) {
  DH_CHECK(check_args(req, {"IP"}));
  const Json* ipam = find_member(req.config, "ipam");
  if (!ipam || !ipam->is_object()) return cni_fail(kInvalidNetworkConfig, "IPAM config missing 'ipam' key");
  IpamConfig cfg;
  cfg.network = req.network_name;
  DH_CHECK(check_network_name(cfg.network));
  DH_TRY(data_dir, optional_string(*ipam, "dataDir", "ipam"));
  if (data_dir && !data_dir->empty()) cfg.data_dir = *data_dir;
  DH_TRY(resolv_conf, optional_string(*ipam, "resolvConf", "ipam"));
  cfg.resolv_conf = resolv_conf.value_or("");
  DH_TRY(sets, parse_range_sets(*ipam));
  cfg.range_sets = std::move(sets);
  DH_TRY(routes, parse_routes(*ipam));
  cfg.routes = std::move(routes);
  DH_TRY(requested, requested_ips(req));
  cfg.requested_ips = std::move(requested);
  return cfg;
}

CniResult<std::vector<LeaseOwner>> load_valid_attachments(const Json& config) {
  constexpr const char* kKey = "cni.dev/valid-attachments";
  const Json* list = find_member(config, kKey);
  if (!list) return cni_fail(kInvalidNetworkConfig, fmt::format("GC needs \"{}\" in the config", kKey));
  if (!list->is_array()) return cni_fail(kDecodingFailure, fmt::format("\"{}\" is not a list", kKey));
  std::vector<LeaseOwner> out;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string where = fmt::format("{}[{}]", kKey, i);
    if (!(*list)[i].is_object()) return cni_fail(kDecodingFailure, where + " is not an object");
    DH_TRY(id, optional_string((*list)[i], "containerID", where));
    DH_TRY(ifname, optional_string((*list)[i], "ifname", where));
    if (!id || !ifname) return cni_fail(kInvalidNetworkConfig, where + " needs containerID and ifname");
    out.push_back({*id, *ifname});
  }
  return out;
}

}  // namespace deckhand::cni::host_local
