// deckhand-apiserver's command line and config file (/etc/deckhand/apiserver.toml).
#pragma once

#include <string>
#include <vector>

#include "deckhand/apiserver/api_server.h"

namespace deckhand::apiserver {

struct ApiServerConfig {
  ApiServerOptions options;
  std::string config_file = "/etc/deckhand/apiserver.toml";
  std::string log_level = "warn";
  bool show_help = false;
  // `issue-cert --user NAME [--group G]... --out DIR [--server URL]`
  bool issue_cert = false;
  std::string cert_user;
  std::vector<std::string> cert_groups;
  std::string cert_out_dir;
  std::string cert_server_url;
};

// Config file first, then flags over it. Errors name the flag or key.
Result<ApiServerConfig> load_config(int argc, char** argv);
const char* usage();

}  // namespace deckhand::apiserver
