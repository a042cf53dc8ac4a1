// Pulls from OCI distribution registries: resolve the reference to a
// manifest (choosing linux/amd64 from an index), fetch its config and layers
// into the content store, then register the image. Endpoints are the host's
// mirrors in order, then the host itself.
#include "deckhand/images/image_puller.h"

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>

#include <toml++/toml.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"
#include "deckhand/images/image_ref.h"
#include "registry_client.h"

namespace deckhand::images {

namespace {

using registry::BodySink;
using registry::Credentials;
using registry::Endpoint;
using registry::HttpResponse;
using registry::RegistryClient;

auto logger() { return log::get("images"); }

constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
constexpr size_t kMaxManifest = 4 << 20;  // distribution registries refuse larger ones too
constexpr size_t kMaxErrorBody = 64 << 10;

// Docker treats registries on loopback addresses as insecure; so do we.
bool is_loopback(std::string_view authority) {
  std::string host;
  if (authority.starts_with('[')) {
    host = authority.substr(1, authority.find(']') - 1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::string json_string(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Descriptor {
  std::string media_type, digest;
  int64_t size = -1;
};

Result<Descriptor> descriptor_from(const Json& j, std::string_view what) {
  Descriptor d{json_string(j, "mediaType"), json_string(j, "digest")};
  if (!is_sha256_digest(d.digest))
    return fail(ErrorKind::InvalidArgument, "{}: unsupported or malformed digest \"{}\"", what, d.digest);
  if (j.contains("size") && j["size"].is_number_integer()) d.size = j["size"].get<int64_t>();
  return d;
}

struct Manifest {
  std::string digest;
  Json json;
  bool is_index = false;
};

bool media_is_index(const std::string& t) { return t == kOciIndex || t == kDockerList; }

Result<Manifest> parse_manifest(std::string digest, std::string_view body, std::string content_type) {
  DH_TRY(j, parse_json(body, "manifest " + digest));
  if (!j.is_object()) return fail(ErrorKind::InvalidArgument, "manifest {} is not a JSON object", digest);
  std::string media = json_string(j, "mediaType");
  if (media.empty()) media = content_type.substr(0, content_type.find(';'));
  bool index = media_is_index(media) || (media.empty() && j.contains("manifests"));
  auto version = j.find("schemaVersion");
  if (!index && (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 2))
    return fail(ErrorKind::Unimplemented, "manifest {}: only schema 2 and OCI manifests are supported", digest);
  return Manifest{std::move(digest), std::move(j), index};
}

// linux/amd64, the only platform deckhand runs.
Result<Descriptor> pick_platform(const Manifest& index) {
  auto it = index.json.find("manifests");
  if (it != index.json.end() && it->is_array()) {
    for (auto& m : *it) {
      auto p = m.is_object() ? m.find("platform") : m.end();
      if (p == m.end() || json_string(*p, "os") != "linux" || json_string(*p, "architecture") != "amd64") continue;
      return descriptor_from(m, "index " + index.digest);
    }
  }
  return fail(ErrorKind::NotFound, "index {} has no linux/amd64 manifest", index.digest);
}

Result<std::vector<Descriptor>> blobs_of(const Manifest& m) {
  std::vector<Descriptor> out;
  auto cfg = m.json.find("config");
  if (cfg == m.json.end()) return fail(ErrorKind::InvalidArgument, "manifest {} has no config", m.digest);
  DH_TRY(c, descriptor_from(*cfg, "config of manifest " + m.digest));
  out.push_back(c);
  auto layers = m.json.find("layers");
  if (layers == m.json.end() || !layers->is_array())
    return fail(ErrorKind::InvalidArgument, "manifest {} has no layers", m.digest);
  for (auto& l : *layers) {
    DH_TRY(d, descriptor_from(l, "layer of manifest " + m.digest));
    out.push_back(d);
  }
  return out;
}

// "code: message" of the first entry of a distribution error body, if any.
std::string registry_error_text(const HttpResponse& r) {
  auto j = parse_json(r.body, "registry error");
  if (!j || !j->is_object() || !j->contains("errors") || !(*j)["errors"].is_array() || (*j)["errors"].empty())
    return {};
  auto& e = (*j)["errors"][0];
  return json_string(e, "code") + ": " + json_string(e, "message");
}

Status check_status(const HttpResponse& r, std::string_view what) {
  if (r.status >= 200 && r.status < 300) return {};
  std::string detail = registry_error_text(r);
  std::string msg = fmt::format("{}: HTTP {}{}{}", what, r.status, detail.empty() ? "" : " ", detail);
  if (r.status == 404) return fail(ErrorKind::NotFound, "{} (not found)", msg);
  if (r.status == 401 || r.status == 403) return fail(ErrorKind::PermissionDenied, "{} (access denied)", msg);
  if (r.status == 429 || r.status >= 500) return fail(ErrorKind::Unavailable, "{}", msg);
  return fail(ErrorKind::Internal, "{}", msg);
}

// One download per blob digest at a time: later pulls wait for the first
// one instead of fetching the same bytes again.
class BlobFlights {
 public:
  struct Ticket {
    std::shared_future<Status> done;
    std::shared_ptr<std::promise<Status>> lead;  // set when this caller downloads
  };

  Ticket join(const std::string& digest) {
    std::lock_guard lock(mu_);
    auto it = flights_.find(digest);
    if (it != flights_.end()) return Ticket{it->second, nullptr};
    auto p = std::make_shared<std::promise<Status>>();
    Ticket t{p->get_future().share(), p};
    flights_.emplace(digest, t.done);
    return t;
  }

  // The blob is in the store (or failed) before waiters wake: newcomers
  // after the erase find it with has().
  void finish(const std::string& digest, Ticket& t, const Status& st) {
    {
      std::lock_guard lock(mu_);
      flights_.erase(digest);
    }
    t.lead->set_value(st);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_future<Status>> flights_;
};

class RegistryPuller final : public ImagePuller {
 public:
  RegistryPuller(ImageStore& store, RegistryConfig config) : store_(store), config_(std::move(config)) {
    registry::init_curl();
  }

  Result<Image> pull(const std::string& ref_text, const PullAuth& auth) override;

  PullStats stats() const override {
    return PullStats{blob_downloads_.load(), blob_bytes_.load(), blob_waits_.load()};
  }

 private:
  Result<std::vector<Endpoint>> endpoints_for(const std::string& domain) const;
  Result<Endpoint> mirror_endpoint(const std::string& url) const;
  Credentials credentials_for(const Credentials& from_request, const std::string& config_key) const;
  Result<std::string> fetch_image(RegistryClient& c, const ImageRef& ref);
  Result<Manifest> fetch_manifest(RegistryClient& c, const std::string& reference, const std::string& expected);
  Status fetch_blob(RegistryClient& c, const Descriptor& d);
  Status download_blob(RegistryClient& c, const Descriptor& d);

  ImageStore& store_;
  const RegistryConfig config_;
  registry::TokenCache tokens_;
  BlobFlights flights_;
  std::atomic<uint64_t> blob_downloads_{0}, blob_bytes_{0}, blob_waits_{0};
};

Result<Image> RegistryPuller::pull(const std::string& ref_text, const PullAuth& auth) {
  DH_TRY(ref, parse_ref(ref_text));
  DH_TRY(request_creds, with_context(registry::credentials_from(auth), "pull {}", ref.string()));
  DH_TRY(endpoints, with_context(endpoints_for(ref.domain), "pull {}", ref.string()));
  auto started = std::chrono::steady_clock::now();
  std::string failures;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    std::string key = i + 1 == endpoints.size() ? ref.domain : endpoints[i].authority;
    RegistryClient client(endpoints[i], ref.path, credentials_for(request_creds, key), tokens_);
    auto top = fetch_image(client, ref);
    if (top) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      logger()->info("pulled {} ({}) from {} in {} ms", ref.string(), *top, client.endpoint().base(), ms.count());
      return with_context(store_.register_image(ref.string(), *top), "pull {}", ref.string());
    }
    Error e = std::move(top.error());
    e.context("pull {} from {}", ref.string(), client.endpoint().base());
    if (i + 1 == endpoints.size()) {
      if (!failures.empty()) e.message += " (mirrors failed too: " + failures + ")";
      return tl::unexpected(std::move(e));
    }
    logger()->warn("{}; trying the next endpoint", e.message);
    failures += (failures.empty() ? "" : "; ") + e.message;
  }
  return fail(ErrorKind::Internal, "pull {}: no endpoint", ref.string());
}

Result<std::vector<Endpoint>> RegistryPuller::endpoints_for(const std::string& domain) const {
  std::vector<Endpoint> out;
  auto it = config_.hosts.find(domain);
  const RegistryHost* host = it == config_.hosts.end() ? nullptr : &it->second;
  if (host) {
    for (auto& m : host->mirrors) {
      DH_TRY(ep, mirror_endpoint(m));
      out.push_back(std::move(ep));
    }
  }
  Endpoint ep;
  // Docker Hub's API is not served at its reference name.
  ep.authority = domain == "docker.io" ? "registry-1.docker.io" : domain;
  ep.loopback = is_loopback(ep.authority);
  bool insecure = (host && host->insecure) || ep.loopback;
  ep.scheme = "https";
  ep.tls.verify = !insecure;
  ep.tls.ca_file = host ? host->ca_file : "";
  ep.http_fallback = insecure;
  out.push_back(std::move(ep));
  return out;
}

// "http://127.0.0.1:5000", "https://mirror.example/prefix" or "mirror.example:5000" (HTTPS).
Result<Endpoint> RegistryPuller::mirror_endpoint(const std::string& url) const {
  Endpoint ep;
  std::string_view rest = url;
  auto sep = rest.find("://");
  ep.scheme = sep == std::string_view::npos ? "https" : std::string(rest.substr(0, sep));
  if (sep != std::string_view::npos) rest.remove_prefix(sep + 3);
  if (ep.scheme != "http" && ep.scheme != "https")
    return fail(ErrorKind::InvalidArgument, "mirror {}: scheme must be http or https", url);
  auto slash = rest.find('/');
  ep.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) ep.prefix = std::string(rest.substr(slash));
  while (ep.prefix.ends_with('/')) ep.prefix.pop_back();
  if (ep.prefix.ends_with("/v2")) ep.prefix.resize(ep.prefix.size() - 3);
  if (ep.authority.empty()) return fail(ErrorKind::InvalidArgument, "mirror {}: no host", url);
  auto it = config_.hosts.find(ep.authority);
  ep.loopback = is_loopback(ep.authority);
  bool insecure = ep.loopback || (it != config_.hosts.end() && it->second.insecure);
  ep.tls.verify = !insecure;
  if (it != config_.hosts.end()) ep.tls.ca_file = it->second.ca_file;
  ep.http_fallback = insecure && ep.scheme == "https" && sep == std::string_view::npos;
  return ep;
}

// The request's credentials win (as containerd's CRI does); otherwise those
// configured for the host (or mirror) contacted.
Credentials RegistryPuller::credentials_for(const Credentials& from_request, const std::string& config_key) const {
  if (!from_request.empty()) return from_request;
  auto it = config_.hosts.find(config_key);
  if (it == config_.hosts.end()) return {};
  return Credentials{it->second.username, it->second.password, "", ""};
}

// Returns the digest the reference resolved to (index or manifest), with
// everything register_image needs in the store.
Result<std::string> RegistryPuller::fetch_image(RegistryClient& c, const ImageRef& ref) {
  std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
  DH_TRY(top, fetch_manifest(c, reference, ref.digest));
  Manifest m = top;
  for (int depth = 0; m.is_index; ++depth) {
    if (depth == 2) return fail(ErrorKind::InvalidArgument, "index {} nests too deeply", top.digest);
    DH_TRY(d, pick_platform(m));
    DH_TRY(next, fetch_manifest(c, d.digest, d.digest));
    m = std::move(next);
  }
  DH_TRY(blobs, blobs_of(m));
  for (auto& b : blobs) DH_CHECK(fetch_blob(c, b));
  return top.digest;
}

Result<Manifest> RegistryPuller::fetch_manifest(RegistryClient& c, const std::string& reference,
                                                const std::string& expected) {
  ContentStore& cs = store_.content();
  if (!expected.empty() && cs.has(expected)) {
    DH_TRY(body, cs.read(expected));
    return parse_manifest(expected, body, "");
  }
  static const std::vector<std::string> accept = {fmt::format("Accept: {}, {}, {}, {}", kOciIndex, kOciManifest,
                                                              kDockerList, kDockerManifest)};
  DH_TRY(resp, c.get("manifests/" + reference, accept, nullptr, kMaxManifest));
  DH_CHECK(check_status(resp, "manifest " + reference));
  std::string digest = sha256_digest(resp.body);
  std::string announced = resp.header("docker-content-digest");
  if (!expected.empty() && digest != expected)
    return fail(ErrorKind::InvalidArgument, "manifest {}: content has digest {}", expected, digest);
  if (is_sha256_digest(announced) && announced != digest)
    return fail(ErrorKind::InvalidArgument, "manifest {}: registry says {} but content has digest {}", reference,
                announced, digest);
  if (!cs.has(digest)) DH_CHECK(cs.put(digest, resp.body));
  return parse_manifest(digest, resp.body, resp.header("content-type"));
}

Status RegistryPuller::fetch_blob(RegistryClient& c, const Descriptor& d) {
  // A waiter retries itself when the download it waited for failed: the
  // other pull may have had other credentials or another mirror.
  for (int attempt = 0;; ++attempt) {
    if (store_.content().has(d.digest)) return {};
    auto ticket = flights_.join(d.digest);
    if (ticket.lead) {
      auto st = download_blob(c, d);
      flights_.finish(d.digest, ticket, st);
      return st;
    }
    ++blob_waits_;
    Status st = ticket.done.get();
    if (st || attempt == 1) return st;
  }
}

Status RegistryPuller::download_blob(RegistryClient& c, const Descriptor& d) {
  DH_TRY(writer, store_.content().writer(d.digest, d.size));
  BodySink sink = [&writer](std::string_view chunk) { return writer.write(chunk); };
  DH_TRY(resp, c.get("blobs/" + d.digest, {}, &sink, kMaxErrorBody));
  DH_CHECK(check_status(resp, "blob " + d.digest));
  DH_CHECK(writer.commit());
  ++blob_downloads_;
  blob_bytes_ += writer.written();
  logger()->debug("fetched blob {} ({} bytes) from {}", d.digest, writer.written(), c.endpoint().base());
  return {};
}

// ---- deckhand-cri's [registry] config ---------------------------------------

Status parse_host_key(RegistryHost& h, std::string_view host, std::string_view key, const toml::node& v) {
  auto line = v.source().begin.line;
  auto bad = [&](std::string_view want) {
    return fail(ErrorKind::InvalidArgument, "registry config line {}: registry.hosts.\"{}\".{} must be {}", line, host,
                key, want);
  };
  if (key == "mirrors") {
    auto* arr = v.as_array();
    if (!arr) return bad("an array of URLs");
    for (auto& m : *arr) {
      auto* s = m.as_string();
      if (!s) return bad("an array of URLs");
      h.mirrors.push_back(s->get());
    }
    return {};
  }
  if (key == "insecure") {
    auto* b = v.as_boolean();
    if (!b) return bad("true or false");
    h.insecure = b->get();
    return {};
  }
  std::string* field = key == "ca_file" ? &h.ca_file : key == "username" ? &h.username
                                                     : key == "password" ? &h.password : nullptr;
  if (!field)
    return fail(ErrorKind::InvalidArgument, "registry config line {}: unknown key registry.hosts.\"{}\".{}", line, host,
                key);
  auto* s = v.as_string();
  if (!s) return bad("a string");
  *field = s->get();
  return {};
}

Result<RegistryConfig> config_from_table(const toml::table& root) {
  const toml::node* reg = root.get("registry");
  if (!reg) return RegistryConfig{};
  if (!reg->is_table())
    return fail(ErrorKind::InvalidArgument, "registry config line {}: registry must be a table",
                reg->source().begin.line);
  return registry_config_from_table(*reg->as_table());
}

}  // namespace

Result<RegistryConfig> registry_config_from_table(const toml::table& registry) {
  RegistryConfig cfg;
  const toml::node* hosts = registry.get("hosts");
  if (!hosts) return cfg;
  auto* table = hosts->as_table();
  if (!table)
    return fail(ErrorKind::InvalidArgument, "registry config line {}: registry.hosts must be a table",
                hosts->source().begin.line);
  for (auto&& [name, node] : *table) {
    auto* host_table = node.as_table();
    if (!host_table)
      return fail(ErrorKind::InvalidArgument, "registry config line {}: registry.hosts.\"{}\" must be a table",
                  node.source().begin.line, name.str());
    RegistryHost h;
    for (auto&& [key, value] : *host_table) DH_CHECK(parse_host_key(h, name.str(), key.str(), value));
    cfg.hosts[std::string(name.str())] = std::move(h);
  }
  return cfg;
}

std::unique_ptr<ImagePuller> ImagePuller::create(ImageStore& store, RegistryConfig config) {
  return std::make_unique<RegistryPuller>(store, std::move(config));
}

Result<RegistryConfig> parse_registry_config(const std::string& toml_text) {
  // toml++ reports syntax errors by throwing: keep them inside.
  try {
    toml::table root = toml::parse(toml_text);
    return config_from_table(root);
  } catch (const toml::parse_error& e) {
    return fail(ErrorKind::InvalidArgument, "registry config line {}, column {}: {}", e.source().begin.line,
                e.source().begin.column, e.description());
  } catch (const std::exception& e) {
    return fail(ErrorKind::InvalidArgument, "registry config: {}", e.what());
  }
}

}  // namespace deckhand::images
