// The success result of CNI spec 1.0.0 ("Section 5: Result Types", ADD
// success), encoded here by us so that tests can check a plugin's output
// against the format rather than against another plugin's output.
#pragma once

#include <arpa/inet.h>

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace deckhand::test {

namespace cni_format_detail {

inline bool is_ip(const nlohmann::json& j) {
  if (!j.is_string()) return false;
  unsigned char buf[16];
  std::string s = j.get<std::string>();
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

inline bool is_cidr(const nlohmann::json& j) {
  if (!j.is_string()) return false;
  std::string s = j.get<std::string>();
  auto slash = s.find('/');
  if (slash == std::string::npos || slash + 1 >= s.size()) return false;
  std::string len = s.substr(slash + 1);
  if (len.find_first_not_of("0123456789") != std::string::npos || len.size() > 3) return false;
  bool v6 = s.find(':') != std::string::npos;
  return is_ip(s.substr(0, slash)) && std::stoi(len) <= (v6 ? 128 : 32);
}

inline bool is_mac(const nlohmann::json& j) {
  if (!j.is_string()) return false;
  std::string s = j.get<std::string>();
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i % 3 == 2 ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

inline void only_keys(const nlohmann::json& o, const std::set<std::string>& allowed, const std::string& where,
                      std::vector<std::string>& out) {
  for (auto it = o.begin(); it != o.end(); ++it)
    if (!allowed.count(it.key())) out.push_back(fmt::format("{}: unexpected key \"{}\"", where, it.key()));
}

}  // namespace cni_format_detail

// Every way r differs from a CNI 1.0.0 ADD success result; empty when it is one.
inline std::vector<std::string> cni_100_result_problems(const nlohmann::json& r) {
  using namespace cni_format_detail;
  std::vector<std::string> out;
  if (!r.is_object()) return {"the result is not an object"};
  only_keys(r, {"cniVersion", "interfaces", "ips", "routes", "dns"}, "result", out);
  if (!r.contains("cniVersion") || r["cniVersion"] != "1.0.0") out.push_back("cniVersion is not \"1.0.0\"");
  size_t interfaces = 0;
  if (r.contains("interfaces")) {
    if (!r["interfaces"].is_array()) out.push_back("interfaces is not a list");
    else {
      interfaces = r["interfaces"].size();
      for (size_t i = 0; i < interfaces; ++i) {
        const auto& itf = r["interfaces"][i];
        std::string where = fmt::format("interfaces[{}]", i);
        if (!itf.is_object()) { out.push_back(where + " is not an object"); continue; }
        only_keys(itf, {"name", "mac", "sandbox"}, where, out);
        if (!itf.contains("name") || !itf["name"].is_string() || itf["name"].get<std::string>().empty())
          out.push_back(where + ".name is missing or not a string");
        if (itf.contains("mac") && !is_mac(itf["mac"])) out.push_back(where + ".mac is not a MAC address");
        if (itf.contains("sandbox") && !itf["sandbox"].is_string()) out.push_back(where + ".sandbox is not a string");
      }
    }
  }
  if (r.contains("ips")) {
    if (!r["ips"].is_array()) out.push_back("ips is not a list");
    else for (size_t i = 0; i < r["ips"].size(); ++i) {
      const auto& ip = r["ips"][i];
      std::string where = fmt::format("ips[{}]", i);
      if (!ip.is_object()) { out.push_back(where + " is not an object"); continue; }
      only_keys(ip, {"address", "gateway", "interface"}, where, out);  // 1.0.0 dropped "version"
      if (!ip.contains("address") || !is_cidr(ip["address"])) out.push_back(where + ".address is not a CIDR");
      if (ip.contains("gateway") && !is_ip(ip["gateway"])) out.push_back(where + ".gateway is not an address");
      if (ip.contains("interface") &&
          (!ip["interface"].is_number_integer() || ip["interface"].get<int64_t>() < 0 ||
           size_t(ip["interface"].get<int64_t>()) >= interfaces))
        out.push_back(where + ".interface is not an index into interfaces");
    }
  }
  if (r.contains("routes")) {
    if (!r["routes"].is_array()) out.push_back("routes is not a list");
    else for (size_t i = 0; i < r["routes"].size(); ++i) {
      const auto& rt = r["routes"][i];
      std::string where = fmt::format("routes[{}]", i);
      if (!rt.is_object()) { out.push_back(where + " is not an object"); continue; }
      only_keys(rt, {"dst", "gw"}, where, out);
      if (!rt.contains("dst") || !is_cidr(rt["dst"])) out.push_back(where + ".dst is not a CIDR");
      if (rt.contains("gw") && !is_ip(rt["gw"])) out.push_back(where + ".gw is not an address");
    }
  }
  if (r.contains("dns")) {
    const auto& d = r["dns"];
    if (!d.is_object()) out.push_back("dns is not an object");
    else {
      only_keys(d, {"nameservers", "domain", "search", "options"}, "dns", out);
      for (const char* k : {"nameservers", "search", "options"}) {
        if (!d.contains(k)) continue;
        if (!d[k].is_array()) { out.push_back(fmt::format("dns.{} is not a list", k)); continue; }
        for (const auto& v : d[k])
          if (!v.is_string() || (std::string(k) == "nameservers" && !is_ip(v)))
            out.push_back(fmt::format("dns.{} holds a bad entry", k));
      }
      if (d.contains("domain") && !d["domain"].is_string()) out.push_back("dns.domain is not a string");
    }
  }
  return out;
}

}  // namespace deckhand::test
