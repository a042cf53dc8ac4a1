#include "resolv_conf.h"

#include <sstream>

#include "deckhand/common/fs.h"

namespace deckhand::cni::host_local {

ResultDns parse_resolv_conf(std::string_view text) {
  ResultDns dns;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string key, word;
    if (!(words >> key) || key[0] == '#' || key[0] == ';') continue;
    std::vector<std::string> values;
    while (words >> word) values.push_back(word);
    if (values.empty()) continue;
    if (key == "nameserver")
      dns.nameservers.push_back(values[0]);
    else if (key == "domain")
      dns.domain = values[0];
    else if (key == "search")
      dns.search.insert(dns.search.end(), values.begin(), values.end());
    else if (key == "options")
      dns.options.insert(dns.options.end(), values.begin(), values.end());
  }
  return dns;
}

CniResult<ResultDns> read_resolv_conf(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return cni_fail(kIoFailure, fmt::format("resolvConf: {}", text.error().message));
  return parse_resolv_conf(*text);
}

}  // namespace deckhand::cni::host_local
