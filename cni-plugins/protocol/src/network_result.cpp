#include "deckhand/cni/network_result.h"


#include "deckhand/cni/ip_address.h"

namespace deckhand::cni {

const std::vector<std::string>& supported_cni_versions() {
  static const std::vector<std::string> v = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return v;
}

bool is_supported_cni_version(std::string_view v) {
  for (const auto& s : supported_cni_versions())
    if (s == v) return true;
  return false;
}

int compare_cni_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    int n = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      n = n * 10 + (s.front() - '0');
      s.remove_prefix(1);
    }
    if (!s.empty()) s.remove_prefix(1);  // the dot, or junk that ends this part
    return n;
  };
  for (int part = 0; part < 3; ++part) {
    int x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

namespace {

// Results before 1.0.0 say each address's family as "version".
bool ips_carry_version(std::string_view v) { return compare_cni_versions(v, "1.0.0") < 0; }

CniResult<std::string> string_field(const Json& obj, const char* key, std::string_view where, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return cni_fail(kDecodingFailure, fmt::format("result: {} has no \"{}\"", where, key));
    return std::string();
  }
  if (!it->is_string())
    return cni_fail(kDecodingFailure, fmt::format("result: {}.{} is not a string", where, key));
  return it->get<std::string>();
}

CniResult<std::vector<std::string>> string_list(const Json& obj, const char* key, std::string_view where) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return cni_fail(kDecodingFailure, fmt::format("result: {}.{} is not a list", where, key));
  for (const auto& s : *it) {
    if (!s.is_string())
      return cni_fail(kDecodingFailure, fmt::format("result: {}.{} holds a non-string", where, key));
    out.push_back(s.get<std::string>());
  }
  return out;
}

// The array under key (empty when absent), or a decoding error.
CniResult<Json> array_field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Json::array();
  if (!it->is_array()) return cni_fail(kDecodingFailure, fmt::format("result: \"{}\" is not a list", key));
  return *it;
}

CniResult<ResultInterface> parse_interface(const Json& j, size_t i) {
  std::string where = fmt::format("interfaces[{}]", i);
  if (!j.is_object()) return cni_fail(kDecodingFailure, "result: " + where + " is not an object");
  ResultInterface out;
  DH_TRY(name, string_field(j, "name", where, true));
  DH_TRY(mac, string_field(j, "mac", where, false));
  DH_TRY(sandbox, string_field(j, "sandbox", where, false));
  out.name = name, out.mac = mac, out.sandbox = sandbox;
  if (auto m = j.find("mtu"); m != j.end() && m->is_number_integer()) out.mtu = m->get<int>();
  return out;
}

CniResult<ResultIp> parse_ip(const Json& j, size_t i, size_t interface_count) {
  std::string where = fmt::format("ips[{}]", i);
  if (!j.is_object()) return cni_fail(kDecodingFailure, "result: " + where + " is not an object");
  ResultIp out;
  DH_TRY(address, string_field(j, "address", where, true));
  if (!IpPrefix::parse(address))
    return cni_fail(kDecodingFailure, fmt::format("result: {}.address \"{}\" is not a CIDR", where, address));
  DH_TRY(gateway, string_field(j, "gateway", where, false));
  if (!gateway.empty() && !IpAddress::parse(gateway))
    return cni_fail(kDecodingFailure, fmt::format("result: {}.gateway \"{}\" is not an address", where, gateway));
  out.address = address, out.gateway = gateway;
  if (auto it = j.find("interface"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || size_t(it->get<int64_t>()) >= interface_count)
      return cni_fail(kDecodingFailure, fmt::format("result: {}.interface is not an index of interfaces", where));
    out.interface = it->get<int>();
  }
  return out;
}

CniResult<ResultRoute> parse_route(const Json& j, size_t i) {
  std::string where = fmt::format("routes[{}]", i);
  if (!j.is_object()) return cni_fail(kDecodingFailure, "result: " + where + " is not an object");
  DH_TRY(dst, string_field(j, "dst", where, true));
  if (!IpPrefix::parse(dst))
    return cni_fail(kDecodingFailure, fmt::format("result: {}.dst \"{}\" is not a CIDR", where, dst));
  DH_TRY(gw, string_field(j, "gw", where, false));
  return ResultRoute{dst, gw};
}

CniResult<ResultDns> parse_dns(const Json& j) {
  ResultDns d;
  auto it = j.find("dns");
  if (it == j.end() || it->is_null()) return d;
  if (!it->is_object()) return cni_fail(kDecodingFailure, "result: \"dns\" is not an object");
  DH_TRY(ns, string_list(*it, "nameservers", "dns"));
  DH_TRY(search, string_list(*it, "search", "dns"));
  DH_TRY(options, string_list(*it, "options", "dns"));
  DH_TRY(domain, string_field(*it, "domain", "dns", false));
  d.nameservers = ns, d.search = search, d.options = options, d.domain = domain;
  return d;
}

}  // namespace

CniResult<NetworkResult> NetworkResult::from_json(const Json& j) {
  if (!j.is_object()) return cni_fail(kDecodingFailure, "result is not a JSON object");
  NetworkResult r;
  DH_TRY(interfaces, array_field(j, "interfaces"));
  for (size_t i = 0; i < interfaces.size(); ++i) {
    DH_TRY(itf, parse_interface(interfaces[i], i));
    r.interfaces.push_back(std::move(itf));
  }
  DH_TRY(ips, array_field(j, "ips"));
  for (size_t i = 0; i < ips.size(); ++i) {
    DH_TRY(ip, parse_ip(ips[i], i, r.interfaces.size()));
    r.ips.push_back(std::move(ip));
  }
  DH_TRY(routes, array_field(j, "routes"));
  for (size_t i = 0; i < routes.size(); ++i) {
    DH_TRY(route, parse_route(routes[i], i));
    r.routes.push_back(std::move(route));
  }
  DH_TRY(dns, parse_dns(j));
  r.dns = std::move(dns);
  return r;
}

Json NetworkResult::to_json(std::string_view cni_version) const {
  Json j = {{"cniVersion", std::string(cni_version)}};
  if (!interfaces.empty()) {
    Json list = Json::array();
    for (const auto& i : interfaces) {
      Json o = {{"name", i.name}};
      if (!i.mac.empty()) o["mac"] = i.mac;
      if (i.mtu > 0 && compare_cni_versions(cni_version, "1.1.0") >= 0) o["mtu"] = i.mtu;
      if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
      list.push_back(std::move(o));
    }
    j["interfaces"] = std::move(list);
  }
  if (!ips.empty()) {
    Json list = Json::array();
    for (const auto& ip : ips) {
      Json o;
      if (ips_carry_version(cni_version))
        o["version"] = ip.address.find(':') == std::string::npos ? "4" : "6";
      if (ip.interface) o["interface"] = *ip.interface;
      o["address"] = ip.address;
      if (!ip.gateway.empty()) o["gateway"] = ip.gateway;
      list.push_back(std::move(o));
    }
    j["ips"] = std::move(list);
  }
  if (!routes.empty()) {
    Json list = Json::array();
    for (const auto& r : routes) {
      Json o = {{"dst", r.dst}};
      if (!r.gw.empty()) o["gw"] = r.gw;
      list.push_back(std::move(o));
    }
    j["routes"] = std::move(list);
  }
  Json d = Json::object();
  if (!dns.nameservers.empty()) d["nameservers"] = dns.nameservers;
  if (!dns.domain.empty()) d["domain"] = dns.domain;
  if (!dns.search.empty()) d["search"] = dns.search;
  if (!dns.options.empty()) d["options"] = dns.options;
  j["dns"] = std::move(d);
  return j;
}

CniResult<Json> convert_result(const Json& result, std::string_view to_version) {
  if (!is_supported_cni_version(to_version))
    return cni_fail(kIncompatibleVersion, fmt::format("cannot convert a result to cniVersion \"{}\"", to_version));
  if (result.is_object()) {
    auto v = result.find("cniVersion");
    if (v != result.end() && v->is_string() && !is_supported_cni_version(v->get<std::string>()))
      return cni_fail(kIncompatibleVersion,
                      fmt::format("cannot convert a result of cniVersion \"{}\"", v->get<std::string>()));
  }
  DH_TRY(r, NetworkResult::from_json(result));
  return r.to_json(to_version);
}

}  // namespace deckhand::cni
