#include "pull_secrets.h"

#include "deckhand/common/base64.h"
#include "pod_config.h"

namespace deckhand::agent {

namespace {

bool is_docker_hub(const std::string& host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// "https://index.docker.io/v1/" -> "index.docker.io"; "reg:5000/v2" -> "reg:5000".
std::string registry_of_key(std::string key) {
  if (auto scheme = key.find("://"); scheme != std::string::npos) key.erase(0, scheme + 3);
  if (auto slash = key.find('/'); slash != std::string::npos) key.erase(slash);
  return key;
}

bool same_registry(const std::string& key, const std::string& registry) {
  std::string host = registry_of_key(key);
  return host == registry || (is_docker_hub(host) && is_docker_hub(registry));
}

Result<::runtime::v1::AuthConfig> auth_of(const Json& entry, const std::string& key, const std::string& secret) {
  ::runtime::v1::AuthConfig a;
  a.set_server_address(registry_of_key(key));
  a.set_username(json_string(entry, "username"));
  a.set_password(json_string(entry, "password"));
  a.set_identity_token(json_string(entry, "identitytoken"));
  a.set_registry_token(json_string(entry, "registrytoken"));
  std::string auth = json_string(entry, "auth");
  if (!auth.empty() && a.username().empty()) {
    DH_TRY(pair, with_context(base64_decode(auth), "imagePullSecret {}: auth of {}", secret, key));
    auto colon = pair.find(':');
    if (colon == std::string::npos)
      return fail(ErrorKind::InvalidArgument, "imagePullSecret {}: auth of {} is not user:password", secret, key);
    a.set_username(pair.substr(0, colon));
    a.set_password(pair.substr(colon + 1));
  }
  return a;
}

// The registries -> entries map of one Secret; null when it holds none.
Result<Json> registries_of(const Json& secret, const std::string& name) {
  const Json& data = json_at(secret, "data");
  for (const char* key : {".dockerconfigjson", ".dockercfg"}) {
    std::string encoded = json_string(data, key);
    if (encoded.empty()) continue;
    DH_TRY(text, with_context(base64_decode(encoded), "imagePullSecret {}: {}", name, key));
    DH_TRY(config, with_context(parse_json(text, key), "imagePullSecret {}", name));
    if (std::string(key) == ".dockercfg") return config;
    return json_at(config, "auths");
  }
  return Json();
}

}  // namespace

std::string image_registry(const std::string& image) {
  auto slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  std::string first = image.substr(0, slash);
  // A first part that is not a host (no dot, no port, not localhost) is a Docker Hub path.
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return "docker.io";
  return first;
}

Result<std::vector<::runtime::v1::AuthConfig>> pull_credentials(const Json& pod, const std::string& image,
                                                                const ObjectGetter& get) {
  std::vector<::runtime::v1::AuthConfig> out;
  const Json& secrets = json_at(json_at(pod, "spec"), "imagePullSecrets");
  if (!secrets.is_array() || secrets.empty()) return out;
  std::string ns = json_string(json_at(pod, "metadata"), "namespace", "default");
  std::string registry = image_registry(image);
  for (const Json& ref : secrets) {
    std::string name = json_string(ref, "name");
    auto secret = get("secrets", ns, name);
    if (!secret) {
      if (secret.error().kind == ErrorKind::NotFound) continue;
      return tl::unexpected(secret.error().context("imagePullSecret {}", name));
    }
    DH_TRY(registries, registries_of(*secret, name));
    if (!registries.is_object()) continue;
    for (auto& [key, entry] : registries.items()) {
      if (!same_registry(key, registry)) continue;
      DH_TRY(auth, auth_of(entry, key, name));
      out.push_back(std::move(auth));
    }
  }
  return out;
}

}  // namespace deckhand::agent
