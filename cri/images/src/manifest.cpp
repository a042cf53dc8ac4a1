// Parsing of image documents. They come from registries and archives, so
// every field is type-checked and nothing throws.
#include "manifest.h"

#include "deckhand/common/digest.h"

namespace deckhand::images {

namespace {

std::string str_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> str_list(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::map<std::string, std::string> str_map(const Json& j, const char* key) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

Result<Json> parse_object(std::string_view text, std::string_view what) {
  DH_TRY(j, parse_json(text, what));
  if (!j.is_object()) return fail(ErrorKind::InvalidArgument, "{}: not a JSON object", what);
  return j;
}

Result<Descriptor> parse_descriptor(const Json& j, std::string_view what) {
  if (!j.is_object()) return fail(ErrorKind::InvalidArgument, "{}: descriptor is not an object", what);
  Descriptor d;
  d.media_type = str_field(j, "mediaType");
  d.digest = str_field(j, "digest");
  if (!is_sha256_digest(d.digest))
    return fail(ErrorKind::InvalidArgument, "{}: descriptor digest \"{}\" is not sha256:<64 hex>", what, d.digest);
  auto size = j.find("size");
  if (size != j.end() && size->is_number_integer()) d.size = size->get<int64_t>();
  auto plat = j.find("platform");
  if (plat != j.end() && plat->is_object()) {
    d.has_platform = true;
    d.platform = {str_field(*plat, "os"), str_field(*plat, "architecture"), str_field(*plat, "variant")};
  }
  d.annotations = str_map(j, "annotations");
  return d;
}

Result<std::vector<Descriptor>> parse_descriptors(const Json& j, const char* key, std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return fail(ErrorKind::InvalidArgument, "{}: no \"{}\" array", what, key);
  std::vector<Descriptor> out;
  for (auto& e : *it) {
    DH_TRY(d, parse_descriptor(e, what));
    out.push_back(std::move(d));
  }
  return out;
}

bool is_index_type(std::string_view mt) { return mt == media::kOciIndex || mt == media::kDockerList; }
bool is_manifest_type(std::string_view mt) { return mt == media::kOciManifest || mt == media::kDockerManifest; }

}  // namespace

Result<DocumentKind> document_kind(std::string_view text, std::string_view what) {
  DH_TRY(j, parse_object(text, what));
  std::string mt = str_field(j, "mediaType");
  if (is_index_type(mt)) return DocumentKind::Index;
  if (is_manifest_type(mt)) return DocumentKind::Manifest;
  if (mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed || j.contains("fsLayers"))
    return fail(ErrorKind::Unimplemented, "{}: Docker schema 1 manifests are not supported", what);
  if (!mt.empty()) return fail(ErrorKind::InvalidArgument, "{}: unknown media type \"{}\"", what, mt);
  if (j.contains("manifests")) return DocumentKind::Index;
  if (j.contains("config") && j.contains("layers")) return DocumentKind::Manifest;
  return fail(ErrorKind::InvalidArgument, "{}: neither an image index nor a manifest", what);
}

Result<Index> parse_index(std::string_view text, std::string_view what) {
  DH_TRY(j, parse_object(text, what));
  Index idx;
  DH_TRY(ms, parse_descriptors(j, "manifests", what));
  idx.manifests = std::move(ms);
  return idx;
}

Result<Manifest> parse_manifest(std::string_view text, std::string_view what) {
  DH_TRY(j, parse_object(text, what));
  Manifest m;
  m.media_type = str_field(j, "mediaType");
  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<int64_t>() != 2)
    return fail(ErrorKind::InvalidArgument, "{}: schemaVersion must be 2", what);
  auto cfg = j.find("config");
  if (cfg == j.end()) return fail(ErrorKind::InvalidArgument, "{}: no config descriptor", what);
  DH_TRY(c, parse_descriptor(*cfg, what));
  m.config = std::move(c);
  DH_TRY(layers, parse_descriptors(j, "layers", what));
  m.layers = std::move(layers);
  return m;
}

Result<ParsedConfig> parse_config(std::string_view text, std::string_view what) {
  DH_TRY(j, parse_object(text, what));
  ParsedConfig out;
  out.platform = {str_field(j, "os"), str_field(j, "architecture"), str_field(j, "variant")};
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object())
    return fail(ErrorKind::InvalidArgument, "{}: no rootfs in image config", what);
  out.diff_ids = str_list(*rootfs, "diff_ids");
  for (auto& d : out.diff_ids)
    if (!is_sha256_digest(d)) return fail(ErrorKind::InvalidArgument, "{}: diff_id \"{}\" is not sha256", what, d);
  auto c = j.find("config");
  if (c != j.end() && c->is_object()) {
    ImageConfig& ic = out.config;
    ic.env = str_list(*c, "Env");
    ic.entrypoint = str_list(*c, "Entrypoint");
    ic.cmd = str_list(*c, "Cmd");
    ic.working_dir = str_field(*c, "WorkingDir");
    ic.user = str_field(*c, "User");
    ic.stop_signal = str_field(*c, "StopSignal");
    ic.labels = str_map(*c, "Labels");
  }
  return out;
}

Result<Descriptor> select_platform(const Index& index, std::string_view os, std::string_view architecture) {
  for (auto& d : index.manifests)
    if (d.has_platform && d.platform.os == os && d.platform.architecture == architecture) return d;
  if (index.manifests.size() == 1 && !index.manifests[0].has_platform) return index.manifests[0];
  std::string seen;
  for (auto& d : index.manifests)
    seen += (seen.empty() ? "" : ", ") + (d.has_platform ? d.platform.os + "/" + d.platform.architecture : "none");
  return fail(ErrorKind::NotFound, "no {}/{} manifest in index (platforms: {})", os, architecture,
              seen.empty() ? "none" : seen);
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (auto& d : diff_ids) out.push_back(out.empty() ? d : sha256_digest(out.back() + " " + d));
  return out;
}

Json config_to_json(const ImageConfig& c) {
  return Json{{"env", c.env},       {"entrypoint", c.entrypoint}, {"cmd", c.cmd},
              {"working_dir", c.working_dir}, {"user", c.user}, {"stop_signal", c.stop_signal},
              {"labels", c.labels}};
}

ImageConfig config_from_json(const Json& j) {
  ImageConfig c;
  if (!j.is_object()) return c;
  c.env = str_list(j, "env");
  c.entrypoint = str_list(j, "entrypoint");
  c.cmd = str_list(j, "cmd");
  c.working_dir = str_field(j, "working_dir");
  c.user = str_field(j, "user");
  c.stop_signal = str_field(j, "stop_signal");
  c.labels = str_map(j, "labels");
  return c;
}

}  // namespace deckhand::images
