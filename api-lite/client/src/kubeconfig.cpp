#include "deckhand/client/kubeconfig.h"

#include "deckhand/common/base64.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/client/yaml_subset.h"

namespace deckhand::client {

namespace {

// The kubeconfig being read: its parsed text and where it lives, for errors
// and for the files it names relative to its directory.
struct Kubeconfig {
  std::string path;
  std::string dir;
  Json doc;
};

Result<Json> parse_document(const std::string& text, const std::string& path) {
  // JSON is YAML, but kubectl's JSON spreads flow collections over many lines,
  // which the YAML reader refuses: hand it to the JSON parser instead.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return parse_yaml_subset(text, path);
  auto json = parse_json(text, path);
  if (json) return json;
  auto yaml = parse_yaml_subset(text, path);  // a one-line flow mapping, "{apiVersion: v1, ...}"
  return yaml ? yaml : json;
}

// A string field of obj; absent or null gives "". Numbers are written out
// (an unquoted "user: 123" is still a name).
Result<std::string> string_field(const Kubeconfig& kc, const Json& obj, const std::string& key,
                                 const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return std::string();
  const Json& v = obj[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return fail(ErrorKind::InvalidArgument, "{}: {} of {} is not a string", kc.path, key, where);
}

Result<bool> bool_field(const Kubeconfig& kc, const Json& obj, const std::string& key,
                        const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return false;
  const Json& v = obj[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "false")) return v == "true";
  return fail(ErrorKind::InvalidArgument, "{}: {} of {} is not true or false", kc.path, key, where);
}

// The entry named `name` in a list such as "clusters" ([{name, cluster: {...}}]):
// its body (the `body_key` object), or nullptr when there is none.
Result<const Json*> named_entry(const Kubeconfig& kc, const std::string& list, const std::string& body_key,
                                const std::string& name) {
  if (!kc.doc.contains(list) || kc.doc[list].is_null()) return nullptr;
  const Json& entries = kc.doc[list];
  if (!entries.is_array()) return fail(ErrorKind::InvalidArgument, "{}: {} is not a list", kc.path, list);
  for (const Json& entry : entries) {
    if (!entry.is_object() || !entry.contains("name") || entry["name"] != name) continue;
    if (!entry.contains(body_key) || entry[body_key].is_null()) {
      static const Json kEmpty = Json::object();
      return &kEmpty;
    }
    if (!entry[body_key].is_object()) {
      return fail(ErrorKind::InvalidArgument, "{}: {} of {} \"{}\" is not a mapping", kc.path, body_key, list,
                  name);
    }
    return &entry[body_key];
  }
  return nullptr;
}

// The content of `<key>-data` (base64) or of the file `<key>` names, "" if neither is set.
Result<std::string> data_or_file(const Kubeconfig& kc, const Json& obj, const std::string& key,
                                 const std::string& where) {
  DH_TRY(data, string_field(kc, obj, key + "-data", where));
  if (!data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) return tl::unexpected(decoded.error().context("{}: {}-data of {}", kc.path, key, where));
    return decoded;
  }
  DH_TRY(file, string_field(kc, obj, key, where));
  if (file.empty()) return std::string();
  if (file[0] != '/') file = fs::join(kc.dir, file);
  auto content = fs::read_file(file);
  if (!content) return tl::unexpected(content.error().context("{}: {} of {}", kc.path, key, where));
  return content;
}

Status read_cluster(const Kubeconfig& kc, const Json& cluster, const std::string& name, ClientConfig& out) {
  const std::string where = "cluster \"" + name + "\"";
  DH_TRY(server, string_field(kc, cluster, "server", where));
  if (server.empty()) return fail(ErrorKind::InvalidArgument, "{}: {} has no server", kc.path, where);
  while (server.size() > 1 && server.back() == '/') server.pop_back();
  out.server = std::move(server);
  DH_TRY(ca, data_or_file(kc, cluster, "certificate-authority", where));
  out.ca_pem = std::move(ca);
  DH_TRY(insecure, bool_field(kc, cluster, "insecure-skip-tls-verify", where));
  out.insecure_skip_tls_verify = insecure;
  return {};
}

Status read_user(const Kubeconfig& kc, const Json& user, const std::string& name, ClientConfig& out) {
  const std::string where = "user \"" + name + "\"";
  DH_TRY(cert, data_or_file(kc, user, "client-certificate", where));
  DH_TRY(key, data_or_file(kc, user, "client-key", where));
  if (cert.empty() != key.empty()) {
    return fail(ErrorKind::InvalidArgument, "{}: {} has a client {} but no client {}", kc.path, where,
                cert.empty() ? "key" : "certificate", cert.empty() ? "certificate" : "key");
  }
  out.cert_pem = std::move(cert);
  out.key_pem = std::move(key);
  DH_TRY(token, string_field(kc, user, "token", where));
  if (token.empty()) {
    DH_TRY(token_file, string_field(kc, user, "tokenFile", where));
    if (!token_file.empty()) {
      if (token_file[0] != '/') token_file = fs::join(kc.dir, token_file);
      auto content = fs::read_file(token_file);
      if (!content) return tl::unexpected(content.error().context("{}: tokenFile of {}", kc.path, where));
      token = std::move(*content);
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    }
  }
  out.token = std::move(token);
  if (out.cert_pem.empty() && out.token.empty() &&
      (user.contains("exec") || user.contains("auth-provider"))) {
    return fail(ErrorKind::Unimplemented,
                "{}: {} uses a credential plugin (exec or auth-provider), which we do not support", kc.path,
                where);
  }
  return {};
}

}  // namespace

Result<ClientConfig> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = fs::read_file(path);
  if (!text) return tl::unexpected(text.error().context("read kubeconfig"));
  DH_TRY(doc, parse_document(*text, path));
  if (doc.is_null()) doc = Json::object();
  if (!doc.is_object()) return fail(ErrorKind::InvalidArgument, "{}: a kubeconfig is a mapping", path);
  size_t slash = path.rfind('/');
  Kubeconfig kc{path, slash == std::string::npos ? "." : path.substr(0, slash + 1), std::move(doc)};

  std::string context_name = context;
  if (context_name.empty()) {
    DH_TRY(current, string_field(kc, kc.doc, "current-context", "the file"));
    if (current.empty())
      return fail(ErrorKind::InvalidArgument, "{} has no current-context: name a context", path);
    context_name = std::move(current);
  }
  DH_TRY(ctx, named_entry(kc, "contexts", "context", context_name));
  if (ctx == nullptr) return fail(ErrorKind::NotFound, "context \"{}\" is not in {}", context_name, path);
  const std::string where = "context \"" + context_name + "\"";

  ClientConfig config;
  DH_TRY(cluster_name, string_field(kc, *ctx, "cluster", where));
  if (cluster_name.empty()) return fail(ErrorKind::InvalidArgument, "{}: {} names no cluster", path, where);
  DH_TRY(cluster, named_entry(kc, "clusters", "cluster", cluster_name));
  if (cluster == nullptr) {
    return fail(ErrorKind::NotFound, "{} names cluster \"{}\", which is not in {}", where, cluster_name,
                path);
  }
  DH_CHECK(read_cluster(kc, *cluster, cluster_name, config));

  DH_TRY(user_name, string_field(kc, *ctx, "user", where));
  if (!user_name.empty()) {
    DH_TRY(user, named_entry(kc, "users", "user", user_name));
    if (user == nullptr) {
      return fail(ErrorKind::NotFound, "{} names user \"{}\", which is not in {}", where, user_name, path);
    }
    DH_CHECK(read_user(kc, *user, user_name, config));
  }
  DH_TRY(ns, string_field(kc, *ctx, "namespace", where));
  if (!ns.empty()) config.default_namespace = std::move(ns);
  return config;
}

}  // namespace deckhand::client
