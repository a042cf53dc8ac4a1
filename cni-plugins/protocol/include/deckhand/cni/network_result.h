// The ADD result of CNI (interfaces, ips, routes, dns) as a value, read from
// and written as any version we speak: 0.3.0, 0.3.1, 0.4.0 (ips carry
// "version"), 1.0.0 and 1.1.0 (they do not).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/cni/cni_error.h"
#include "deckhand/common/json.h"

namespace deckhand::cni {

// Config cniVersions we accept, oldest first.
const std::vector<std::string>& supported_cni_versions();
bool is_supported_cni_version(std::string_view v);
// Compares dotted versions ("0.4.0" < "1.0.0"); unparsable parts count as 0.
int compare_cni_versions(std::string_view a, std::string_view b);

struct ResultInterface {
  std::string name, mac, sandbox;  // sandbox: netns path; empty for host interfaces
  int mtu = 0;                     // 1.1.0; 0 = not given
};

struct ResultIp {
  std::string address;  // CIDR, "10.1.0.5/24"
  std::string gateway;  // may be empty
  std::optional<int> interface;  // index into interfaces
};

struct ResultRoute {
  std::string dst;  // CIDR
  std::string gw;   // may be empty
};

struct ResultDns {
  std::vector<std::string> nameservers, search, options;
  std::string domain;
  bool empty() const { return nameservers.empty() && search.empty() && options.empty() && domain.empty(); }
};

struct NetworkResult {
  std::vector<ResultInterface> interfaces;
  std::vector<ResultIp> ips;
  std::vector<ResultRoute> routes;
  ResultDns dns;

  // In the form of cni_version (which must be a supported one).
  Json to_json(std::string_view cni_version) const;
  // From a result of any supported version; decoding failure (code 6) naming
  // the field that is wrong.
  static CniResult<NetworkResult> from_json(const Json& j);
};

// A result converted to another version ("version" on ips added or dropped).
CniResult<Json> convert_result(const Json& result, std::string_view to_version);

}  // namespace deckhand::cni
