#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "deckhand/bridge/bridge.h"

namespace deckhand::bridge {

using cni::cni_fail;
using cni::CniResult;
using cni::CniStatus;

namespace {

CniStatus get_bool(const Json& c, const char* key, bool& out) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return {};
  if (!it->is_boolean())
    return cni_fail(cni::kInvalidNetworkConfig, fmt::format("invalid network config: \"{}\" must be true or false, not {}", key, it->dump()));
  out = it->get<bool>();
  return {};
}

CniStatus get_int(const Json& c, const char* key, int lo, int hi, int& out) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return {};
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
    return cni_fail(cni::kInvalidNetworkConfig,
                    fmt::format("invalid network config: \"{}\" must be an integer from {} to {}, not {}", key, lo, hi, it->dump()));
  out = static_cast<int>(it->get<int64_t>());
  return {};
}

CniStatus get_strings(const Json& c, const char* key, std::vector<std::string>& out, const char* where) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return {};
  if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const Json& s) { return s.is_string(); }))
    return cni_fail(cni::kInvalidNetworkConfig, fmt::format("invalid network config: \"{}.{}\" must be a list of strings", where, key));
  for (const auto& s : *it) out.push_back(s.get<std::string>());
  return {};
}

bool valid_ifname(const std::string& n) {
  if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
  return std::none_of(n.begin(), n.end(),
                      [](char ch) { return ch == '/' || ch == ':' || std::isspace(static_cast<unsigned char>(ch)); });
}

bool truthy_flag(const Json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_array() || it->is_object()) return !it->empty();
  return false;
}

}  // namespace

CniResult<BridgeConfig> parse_config(const Json& c, bool for_add) {
  BridgeConfig cfg;
  if (auto it = c.find("bridge"); it != c.end() && !it->is_null()) {
    if (!it->is_string())
      return cni_fail(cni::kInvalidNetworkConfig, fmt::format("invalid network config: \"bridge\" must be a string, not {}", it->dump()));
    std::string name = it->get<std::string>();
    if (!name.empty()) {
      if (!valid_ifname(name))
        return cni_fail(cni::kInvalidNetworkConfig,
                        fmt::format("invalid network config: \"bridge\" \"{}\" is not a valid interface name", name));
      cfg.bridge = name;
    }
  }
  DH_CHECK(get_bool(c, "isGateway", cfg.is_gateway));
  DH_CHECK(get_bool(c, "isDefaultGateway", cfg.is_default_gateway));
  DH_CHECK(get_bool(c, "forceAddress", cfg.force_address));
  DH_CHECK(get_bool(c, "ipMasq", cfg.ip_masq));
  DH_CHECK(get_bool(c, "hairpinMode", cfg.hairpin_mode));
  DH_CHECK(get_bool(c, "promiscMode", cfg.promisc_mode));
  DH_CHECK(get_bool(c, "enabledad", cfg.enable_dad));
  DH_CHECK(get_int(c, "mtu", 0, 65535, cfg.mtu));
  if (cfg.mtu != 0 && cfg.mtu < 68)
    return cni_fail(cni::kInvalidNetworkConfig, fmt::format("invalid network config: \"mtu\" {} is below the minimum of 68", cfg.mtu));
  DH_CHECK(get_int(c, "vlan", 0, 4094, cfg.vlan));
  if (cfg.is_default_gateway) cfg.is_gateway = true;

  if (auto it = c.find("ipam"); it != c.end() && !it->is_null()) {
    if (!it->is_object())
      return cni_fail(cni::kInvalidNetworkConfig, "invalid network config: \"ipam\" must be an object");
    if (auto t = it->find("type"); t != it->end() && !t->is_null()) {
      if (!t->is_string())
        return cni_fail(cni::kInvalidNetworkConfig, "invalid network config: \"ipam.type\" must be a string");
      cfg.ipam_type = t->get<std::string>();
    }
  }
  if (auto it = c.find("dns"); it != c.end() && !it->is_null()) {
    if (!it->is_object()) return cni_fail(cni::kInvalidNetworkConfig, "invalid network config: \"dns\" must be an object");
    DH_CHECK(get_strings(*it, "nameservers", cfg.dns.nameservers, "dns"));
    DH_CHECK(get_strings(*it, "search", cfg.dns.search, "dns"));
    DH_CHECK(get_strings(*it, "options", cfg.dns.options, "dns"));
    if (auto d = it->find("domain"); d != it->end() && !d->is_null()) {
      if (!d->is_string()) return cni_fail(cni::kInvalidNetworkConfig, "invalid network config: \"dns.domain\" must be a string");
      cfg.dns.domain = d->get<std::string>();
    }
  }

  if (!for_add) return cfg;
  if (cfg.hairpin_mode && cfg.promisc_mode)
    return cni_fail(cni::kInvalidNetworkConfig,
                    "invalid network config: \"hairpinMode\" and \"promiscMode\" cannot both be true");
  if (cfg.ip_masq)
    return cni_fail(cni::kUnsupportedField, "unsupported field \"ipMasq\": deckhand-bridge does not masquerade; "
                                            "set \"ipMasq\": false or chain a plugin that does");
  if (truthy_flag(c, "macspoofchk"))
    return cni_fail(cni::kUnsupportedField, "unsupported field \"macspoofchk\"");
  if (truthy_flag(c, "vlanTrunk"))
    return cni_fail(cni::kUnsupportedField, "unsupported field \"vlanTrunk\"");
  if (cfg.vlan != 0 && cfg.is_gateway)
    return cni_fail(cni::kUnsupportedField,
                    "unsupported field \"vlan\" together with \"isGateway\": deckhand-bridge has no gateway interface per VLAN");
  return cfg;
}

}  // namespace deckhand::bridge
