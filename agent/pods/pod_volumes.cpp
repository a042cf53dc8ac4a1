#include "pod_volumes.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "deckhand/common/base64.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/common/rollback.h"
#include "deckhand/common/text.h"
#include "pod_config.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;

namespace {

const Json kNull;

constexpr mode_t kDefaultFileMode = 0644;
constexpr mode_t kEmptyDirMode = 0777;  // kubelet's: any container user may write
constexpr mode_t kVolumeDirMode = 0755;
constexpr const char* kDataLink = "..data";
constexpr const char* kDataLinkTemp = "..data_tmp";
constexpr int kMaxUnmountPasses = 64;

std::shared_ptr<spdlog::logger> logger() { return log::get("agent"); }

enum class VolumeKind { EmptyDir, ConfigMap, Secret, DownwardApi, Projected, HostPath };

struct Volume {
  std::string name;
  VolumeKind kind;
  const Json* source;  // the volume's <type> object inside the pod JSON
};

// One file of an atomically written volume: its bytes and permission bits.
struct FileContent {
  std::string data;
  mode_t mode = kDefaultFileMode;
  bool operator==(const FileContent&) const = default;
};
// Relative path (cleaned) -> content.
using Payload = std::map<std::string, FileContent>;

bool is_true(const Json& obj, const char* key) {
  const Json& v = json_at(obj, key);
  return v.is_boolean() && v.get<bool>();
}

const char* plugin_dir_name(VolumeKind kind) {
  switch (kind) {
    case VolumeKind::EmptyDir:
      return "kubernetes.io~empty-dir";
    case VolumeKind::ConfigMap:
      return "kubernetes.io~configmap";
    case VolumeKind::Secret:
      return "kubernetes.io~secret";
    case VolumeKind::DownwardApi:
      return "kubernetes.io~downward-api";
    case VolumeKind::Projected:
      return "kubernetes.io~projected";
    case VolumeKind::HostPath:
      return "kubernetes.io~host-path";
  }
  return "unknown";
}

bool is_atomic_kind(VolumeKind kind) {
  return kind == VolumeKind::ConfigMap || kind == VolumeKind::Secret || kind == VolumeKind::DownwardApi ||
         kind == VolumeKind::Projected;
}

std::string volume_dir(const std::string& pod_dir, const Volume& v) {
  return fs::join(fs::join(fs::join(pod_dir, "volumes"), plugin_dir_name(v.kind)), v.name);
}

// The fields of a volume that name its source, other than "name".
Result<Volume> classify_volume(const Json& volume) {
  std::string name = json_string(volume, "name");
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return fail(ErrorKind::InvalidArgument, "volume name \"{}\" is not a valid name", name);
  static const std::pair<const char*, VolumeKind> known[] = {
      {"emptyDir", VolumeKind::EmptyDir},   {"configMap", VolumeKind::ConfigMap},
      {"secret", VolumeKind::Secret},       {"downwardAPI", VolumeKind::DownwardApi},
      {"projected", VolumeKind::Projected}, {"hostPath", VolumeKind::HostPath}};
  for (const auto& [field, kind] : known) {
    const Json& src = json_at(volume, field);
    if (src.is_object()) return Volume{name, kind, &src};
  }
  for (const auto& [field, value] : volume.items())
    if (field != "name" && !value.is_null())
      return fail(ErrorKind::Unimplemented, "volume {}: volume type {} is not supported", name, field);
  return fail(ErrorKind::InvalidArgument, "volume {}: no volume source", name);
}

Result<std::map<std::string, Volume>> pod_volumes(const Json& pod) {
  std::map<std::string, Volume> out;
  const Json& list = json_at(json_at(pod, "spec"), "volumes");
  for (const Json& volume : list.is_array() ? list : kNull) {
    DH_TRY(v, classify_volume(volume));
    std::string name = v.name;
    if (!out.emplace(name, std::move(v)).second)
      return fail(ErrorKind::InvalidArgument, "volume {} is declared twice", name);
  }
  return out;
}

// A relative path made of plain segments ("a/./b//c" -> "a/b/c"); what names it in errors.
// Kubelet refuses a ".." element anywhere, and (for files it writes) a first
// element starting with "..", which would collide with its own "..data" names.
Result<std::string> clean_relative_path(std::string_view path, bool allow_dotdot_prefix,
                                        const std::string& what) {
  auto refuse = [&](std::string_view why) {
    return fail(ErrorKind::InvalidArgument, "{}{}path \"{}\" {}", what, what.empty() ? "" : ": ", path, why);
  };
  if (path.empty()) return refuse("is empty");
  if (path.front() == '/') return refuse("is not relative");
  std::string cleaned;
  for (std::string_view seg : split(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return refuse("contains '..'");
    if (seg.size() > 255) return refuse("has a part longer than 255 bytes");
    if (!cleaned.empty()) cleaned += '/';
    cleaned += seg;
  }
  if (cleaned.empty()) return refuse("names no file");
  if (!allow_dotdot_prefix && cleaned.rfind("..", 0) == 0) return refuse("must not start with '..'");
  return cleaned;
}

Result<mode_t> file_mode(const Json& obj, const char* key, mode_t fallback, const std::string& what) {
  const Json& v = json_at(obj, key);
  if (v.is_null()) return fallback;
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 0777)
    return fail(ErrorKind::InvalidArgument, "{}: {} must be a file mode between 0 and 0777", what, key);
  return static_cast<mode_t>(v.get<int64_t>());
}

// ---- ConfigMap and Secret contents ----

struct KeyedObject {
  const char* resource;  // "configmaps" or "secrets"
  const char* kind;      // "ConfigMap" or "Secret" for messages
};
constexpr KeyedObject kConfigMapObject{"configmaps", "ConfigMap"};
constexpr KeyedObject kSecretObject{"secrets", "Secret"};

Status add_string_keys(const Json& map, std::map<std::string, std::string>& keys) {
  for (const auto& [key, value] : map.is_object() ? map.items() : kNull.items()) {
    if (!value.is_string()) return fail(ErrorKind::InvalidArgument, "key {} is not a string", key);
    keys[key] = value.get<std::string>();
  }
  return {};
}

Status add_base64_keys(const Json& map, std::map<std::string, std::string>& keys) {
  for (const auto& [key, value] : map.is_object() ? map.items() : kNull.items()) {
    if (!value.is_string()) return fail(ErrorKind::InvalidArgument, "key {} is not a string", key);
    auto bytes = base64_decode(value.get<std::string>());
    if (!bytes) return tl::unexpected(bytes.error().context("key {}", key));
    keys[key] = std::move(*bytes);
  }
  return {};
}

// The keys of a ConfigMap or Secret with their bytes; nullopt when it does
// not exist and the volume says it is optional.
Result<std::optional<std::map<std::string, std::string>>> fetch_keys(const KeyedObject& type,
                                                                     const std::string& ns,
                                                                     const std::string& name, bool optional,
                                                                     const ObjectGetter& get) {
  if (name.empty()) return fail(ErrorKind::InvalidArgument, "no {} name", type.kind);
  auto object = get(type.resource, ns, name);
  if (!object) {
    if (object.error().kind == ErrorKind::NotFound) {
      if (optional) return std::nullopt;
      return fail(ErrorKind::NotFound, "{} {}/{} not found", type.kind, ns, name);
    }
    return tl::unexpected(object.error().context("get {} {}/{}", type.kind, ns, name));
  }
  std::map<std::string, std::string> keys;
  Status decoded;
  if (type.resource == kSecretObject.resource) {
    decoded = add_base64_keys(json_at(*object, "data"), keys);
    if (decoded) decoded = add_string_keys(json_at(*object, "stringData"), keys);
  } else {
    decoded = add_string_keys(json_at(*object, "data"), keys);
    if (decoded) decoded = add_base64_keys(json_at(*object, "binaryData"), keys);
  }
  if (!decoded) return tl::unexpected(decoded.error().context("{} {}/{}", type.kind, ns, name));
  return keys;
}

Status add_file(Payload& payload, const std::string& path, FileContent content, const std::string& what) {
  if (!payload.emplace(path, std::move(content)).second)
    return fail(ErrorKind::InvalidArgument, "{}: two files have the path {}", what, path);
  return {};
}

// A ConfigMap or Secret source (of a volume or a projection) into payload:
// all keys, or just the listed items.
Status project_keyed_object(const KeyedObject& type, const Json& source, const std::string& ns,
                            mode_t default_mode, const ObjectGetter& get, Payload& payload) {
  const char* name_field =
      type.resource == kSecretObject.resource && json_at(source, "name").is_null() ? "secretName" : "name";
  std::string name = json_string(source, name_field);
  bool optional = is_true(source, "optional");
  DH_TRY(keys, fetch_keys(type, ns, name, optional, get));
  if (!keys) return {};
  std::string what = fmt::format("{} {}/{}", type.kind, ns, name);
  const Json& items = json_at(source, "items");
  if (!items.is_array() || items.empty()) {
    for (auto& [key, data] : *keys) {
      DH_TRY(path, clean_relative_path(key, false, what + " key " + key));
      DH_CHECK(add_file(payload, path, FileContent{data, default_mode}, what));
    }
    return {};
  }
  for (const Json& item : items) {
    std::string key = json_string(item, "key");
    auto found = keys->find(key);
    if (found == keys->end()) {
      if (optional) continue;
      return fail(ErrorKind::NotFound, "{} has no key \"{}\"", what, key);
    }
    DH_TRY(path, clean_relative_path(json_string(item, "path"), false, what + " item " + key));
    DH_TRY(mode, file_mode(item, "mode", default_mode, what + " item " + key));
    DH_CHECK(add_file(payload, path, FileContent{found->second, mode}, what));
  }
  return {};
}

// ---- Downward API contents ----

uint32_t utf8_rune(std::string_view s, size_t i, size_t& len) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = byte(0);
  len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (c > 0xF4 || len == 0 || i + len > s.size()) return len = 0, 0;
  uint32_t r = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return len = 0, 0;
    r = (r << 6) | (byte(k) & 0x3F);
  }
  bool overlong = (len == 3 && r < 0x800) || (len == 4 && r < 0x10000);
  if (overlong || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return len = 0, 0;
  return r;
}

// Go's unicode.IsPrint for the characters that matter in labels and
// annotations: controls, separators other than ' ', format characters and
// private use are not printable.
bool go_printable(uint32_t r) {
  if (r < 0xA0) return false;  // callers pass non-ASCII only: C1 controls
  static const std::pair<uint32_t, uint32_t> not_printable[] = {
      {0xA0, 0xA0},     {0xAD, 0xAD},     {0x61C, 0x61C},   {0x1680, 0x1680}, {0x180E, 0x180E},
      {0x2000, 0x200F}, {0x2028, 0x202F}, {0x205F, 0x2064}, {0x2066, 0x206F}, {0x3000, 0x3000},
      {0xE000, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0xFFFE, 0xFFFF}, {0xF0000, 0x10FFFF}};
  for (auto [lo, hi] : not_printable)
    if (r >= lo && r <= hi) return false;
  return true;
}

// Quoted like Go's %q (strconv.Quote), as kubelet writes label and annotation values.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (c < 0x20 || c == 0x7F)
            out += fmt::format("\\x{:02x}", c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t r = utf8_rune(s, i, len);
    if (len == 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    if (go_printable(r))
      out.append(s.substr(i, len));
    else if (r < 0x10000)
      out += fmt::format("\\u{:04x}", r);
    else
      out += fmt::format("\\U{:08x}", r);
    i += len;
  }
  return out + "\"";
}

std::string json_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// key="value" lines sorted by key (nlohmann's object is a sorted map), no final newline.
std::string format_map(const Json& map) {
  std::string out;
  for (const auto& [key, value] : map.is_object() ? map.items() : kNull.items()) {
    if (!out.empty()) out += '\n';
    out += key + "=" + go_quote(json_text(value));
  }
  return out;
}

Result<std::string> downward_field(const Json& pod, const std::string& path) {
  const Json& meta = json_at(pod, "metadata");
  const Json& spec = json_at(pod, "spec");
  const Json& status = json_at(pod, "status");
  if (path == "metadata.name") return json_string(meta, "name");
  if (path == "metadata.namespace") return json_string(meta, "namespace");
  if (path == "metadata.uid") return json_string(meta, "uid");
  if (path == "metadata.labels") return format_map(json_at(meta, "labels"));
  if (path == "metadata.annotations") return format_map(json_at(meta, "annotations"));
  if (path == "spec.nodeName") return json_string(spec, "nodeName");
  if (path == "spec.serviceAccountName") return json_string(spec, "serviceAccountName");
  if (path == "status.podIP") return json_string(status, "podIP");
  if (path == "status.hostIP") return json_string(status, "hostIP");
  for (const char* map : {"labels", "annotations"}) {
    std::string prefix = fmt::format("metadata.{}['", map);
    if (path.rfind(prefix, 0) == 0 && path.size() >= prefix.size() + 2 &&
        path.substr(path.size() - 2) == "']") {
      std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      const Json& value = json_at(json_at(meta, map), key.c_str());
      return value.is_null() ? std::string() : json_text(value);
    }
  }
  return fail(ErrorKind::InvalidArgument, "fieldRef {} is not supported", path);
}

const Json* find_container(const Json& pod, const std::string& name) {
  for (bool init : {false, true}) {
    const Json& list = pod_containers(pod, init);
    for (const Json& c : list.is_array() ? list : kNull)
      if (json_string(c, "name") == name) return &c;
  }
  return nullptr;
}

// What a container without a limit may use: the node's CPUs (millicores) or memory (bytes).
int64_t node_capacity(bool cpu) {
  if (cpu) return std::max<int64_t>(1, ::sysconf(_SC_NPROCESSORS_ONLN)) * 1000;
  return static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
}

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// limits.cpu / requests.memory ... of a container, divided by divisor
// rounding up, as kubelet does. A missing limit is the node's capacity; a
// missing request falls back to the limit (the API server's default).
Result<std::string> downward_resource(const Json& pod, const Json& ref) {
  std::string container_name = json_string(ref, "containerName");
  std::string resource = json_string(ref, "resource");
  const Json* container = find_container(pod, container_name);
  if (!container)
    return fail(ErrorKind::InvalidArgument, "resourceFieldRef: no container \"{}\"", container_name);
  bool cpu = resource == "limits.cpu" || resource == "requests.cpu";
  bool memory = resource == "limits.memory" || resource == "requests.memory";
  if (!cpu && !memory)
    return fail(ErrorKind::InvalidArgument, "resourceFieldRef {} is not supported", resource);
  const char* name = cpu ? "cpu" : "memory";
  auto amount = [&](const char* section) -> Result<std::optional<int64_t>> {
    const Json& q = json_at(json_at(json_at(*container, "resources"), section), name);
    if (q.is_null()) return std::optional<int64_t>();
    auto v = cpu ? cpu_millis(q) : quantity_bytes(q);
    if (!v)
      return fail(ErrorKind::InvalidArgument, "{}.{} of container {} is not a quantity", section, name,
                  container_name);
    return v;
  };
  DH_TRY(limit, amount("limits"));
  int64_t value = limit ? *limit : node_capacity(cpu);
  if (resource.rfind("requests.", 0) == 0) {
    DH_TRY(request, amount("requests"));
    value = request ? *request : limit ? *limit : 0;
  }
  const Json& divisor_text = json_at(ref, "divisor");
  std::optional<int64_t> divisor = 1;
  if (!divisor_text.is_null())
    divisor = cpu ? cpu_millis(divisor_text) : quantity_bytes(divisor_text);
  else if (cpu)
    divisor = 1000;  // "1" core
  if (!divisor || *divisor <= 0)
    return fail(ErrorKind::InvalidArgument, "resourceFieldRef {}: divisor {} is not a positive quantity",
                resource, json_text(divisor_text));
  return std::to_string(ceil_div(value, *divisor));
}

Status project_downward_api(const Json& pod, const Json& source, mode_t default_mode, Payload& payload) {
  const Json& items = json_at(source, "items");
  for (const Json& item : items.is_array() ? items : kNull) {
    std::string raw_path = json_string(item, "path");
    DH_TRY(path, clean_relative_path(raw_path, false, "downwardAPI item " + raw_path));
    DH_TRY(mode, file_mode(item, "mode", default_mode, "downwardAPI item " + path));
    const Json& field = json_at(item, "fieldRef");
    const Json& resource = json_at(item, "resourceFieldRef");
    Result<std::string> value =
        field.is_object()      ? downward_field(pod, json_string(field, "fieldPath"))
        : resource.is_object() ? downward_resource(pod, resource)
                               : fail(ErrorKind::InvalidArgument, "neither fieldRef nor resourceFieldRef");
    if (!value) return tl::unexpected(value.error().context("downwardAPI item {}", path));
    DH_CHECK(add_file(payload, path, FileContent{std::move(*value), mode}, "downwardAPI"));
  }
  return {};
}

// ---- Payload of an atomically written volume ----

std::string pod_namespace(const Json& pod) {
  std::string ns = json_string(json_at(pod, "metadata"), "namespace");
  return ns.empty() ? "default" : ns;
}

Status project_sources(const Json& pod, const Json& source, const ObjectGetter& get, Payload& payload) {
  DH_TRY(default_mode, file_mode(source, "defaultMode", kDefaultFileMode, "projected"));
  const Json& sources = json_at(source, "sources");
  for (const Json& s : sources.is_array() ? sources : kNull) {
    if (s.contains("configMap")) {
      DH_CHECK(project_keyed_object(kConfigMapObject, s["configMap"], pod_namespace(pod), default_mode, get,
                                    payload));
    } else if (s.contains("secret")) {
      DH_CHECK(
          project_keyed_object(kSecretObject, s["secret"], pod_namespace(pod), default_mode, get, payload));
    } else if (s.contains("downwardAPI")) {
      DH_CHECK(project_downward_api(pod, s["downwardAPI"], default_mode, payload));
    } else {
      std::string kind = s.is_object() && !s.empty() ? s.begin().key() : "(empty)";
      return fail(ErrorKind::Unimplemented, "projected source {} is not supported", kind);
    }
  }
  return {};
}

Result<Payload> volume_payload(const Json& pod, const Volume& v, const ObjectGetter& get) {
  Payload payload;
  const Json& src = *v.source;
  Status made;
  if (v.kind == VolumeKind::Projected) {
    made = project_sources(pod, src, get, payload);
  } else {
    DH_TRY(default_mode, file_mode(src, "defaultMode", kDefaultFileMode, "volume"));
    if (v.kind == VolumeKind::ConfigMap)
      made = project_keyed_object(kConfigMapObject, src, pod_namespace(pod), default_mode, get, payload);
    else if (v.kind == VolumeKind::Secret)
      made = project_keyed_object(kSecretObject, src, pod_namespace(pod), default_mode, get, payload);
    else
      made = project_downward_api(pod, src, default_mode, payload);
  }
  if (!made) return tl::unexpected(made.error());
  return payload;
}

// ---- The atomic writer ----

// The files under dir (relative paths), not following symlinks.
Status read_payload(const std::string& dir, const std::string& prefix, Payload& out) {
  DH_TRY(names, fs::list_dir(dir));
  for (const auto& name : names) {
    std::string path = fs::join(dir, name);
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return sys_fail("stat {}", path);
    if (S_ISDIR(st.st_mode)) {
      DH_CHECK(read_payload(path, rel, out));
    } else if (S_ISREG(st.st_mode)) {
      DH_TRY(fd, fs::open_fd(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      DH_TRY(data, fs::read_all(fd.get(), path));
      out[rel] = FileContent{std::move(data), static_cast<mode_t>(st.st_mode & 07777)};
    } else {
      out[rel] = FileContent{"", static_cast<mode_t>(~0u)};  // never equal to a payload file
    }
  }
  return {};
}

// The timestamped directory ..data points to, or "" when there is none.
Result<std::string> current_data_dir(const std::string& dir) {
  std::string link = fs::join(dir, kDataLink);
  char buf[256];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) {
    if (errno == ENOENT) return std::string();
    return sys_fail("read link {}", link);
  }
  std::string target(buf, static_cast<size_t>(n));
  if (target.rfind("..", 0) != 0 || target == kDataLink || target.find('/') != std::string::npos)
    return fail(ErrorKind::FailedPrecondition, "{} points to {}, not a data directory", link, target);
  return target;
}

Result<std::string> make_data_dir(const std::string& dir) {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &utc);
  std::string tmpl = fs::join(dir, std::string(stamp) + "XXXXXX");
  if (!::mkdtemp(tmpl.data())) return sys_fail("make a data directory in {}", dir);
  // mkdtemp makes it 0700: readers of any uid must get through it.
  if (::chmod(tmpl.c_str(), kVolumeDirMode) != 0) {
    auto err = sys_fail("chmod {}", tmpl);
    ::rmdir(tmpl.c_str());
    return err;
  }
  return tmpl.substr(tmpl.rfind('/') + 1);
}

Status write_payload_files(const std::string& data_dir, const Payload& payload) {
  for (const auto& [rel, content] : payload) {
    std::string path = fs::join(data_dir, rel);
    auto slash = rel.rfind('/');
    if (slash != std::string::npos)
      DH_CHECK(fs::make_dirs(fs::join(data_dir, rel.substr(0, slash)), kVolumeDirMode));
    DH_TRY(fd, fs::open_fd(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    DH_CHECK(fs::write_all(fd.get(), content.data, path));
    // fchmod, not the open mode: the umask must not change what the pod asked for.
    if (::fchmod(fd.get(), content.mode) != 0) return sys_fail("chmod {}", path);
  }
  return {};
}

// Points dir/name at target with a rename, so that it is never missing.
Status replace_symlink(const std::string& dir, const std::string& name, const std::string& target) {
  std::string link = fs::join(dir, name);
  std::string temp = fs::join(dir, kDataLinkTemp);
  if (::unlink(temp.c_str()) != 0 && errno != ENOENT) return sys_fail("remove {}", temp);
  if (::symlink(target.c_str(), temp.c_str()) != 0) return sys_fail("symlink {} -> {}", temp, target);
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    auto err = sys_fail("rename {} to {}", temp, link);
    ::unlink(temp.c_str());
    return err;
  }
  return {};
}

std::set<std::string> top_level_names(const Payload& payload) {
  std::set<std::string> names;
  for (const auto& [rel, content] : payload) names.insert(rel.substr(0, rel.find('/')));
  return names;
}

// Each top-level name is a symlink through ..data; names no longer in the
// payload go, and so do data directories other than the current one.
Status link_top_level(const std::string& dir, const Payload& payload, const std::string& current) {
  auto names = top_level_names(payload);
  for (const auto& name : names) {
    std::string target = std::string(kDataLink) + "/" + name;
    char buf[512];
    ssize_t n = ::readlink(fs::join(dir, name).c_str(), buf, sizeof buf);
    if (n >= 0 && std::string_view(buf, static_cast<size_t>(n)) == target) continue;
    DH_CHECK(replace_symlink(dir, name, target));
  }
  DH_TRY(entries, fs::list_dir(dir));
  for (const auto& name : entries) {
    std::string path = fs::join(dir, name);
    if (name.rfind("..", 0) == 0) {
      if (name == kDataLink || name == current) continue;
      DH_CHECK(fs::remove_all(path));  // an older data dir, or a leftover of a crashed write
    } else if (!names.count(name)) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::unlink(path.c_str()) != 0 &&
          errno != ENOENT)
        return sys_fail("remove {}", path);
    }
  }
  return {};
}

// Writes payload into dir the way kubelet's atomic writer does; unchanged
// contents are left as they are.
Status write_atomically(const std::string& dir, const Payload& payload) {
  DH_TRY(old_dir, current_data_dir(dir));
  if (!old_dir.empty()) {
    Payload old;
    DH_CHECK(read_payload(fs::join(dir, old_dir), "", old));
    if (old == payload) return link_top_level(dir, payload, old_dir);
  }
  DH_TRY(new_dir, make_data_dir(dir));
  Rollback undo;
  undo.add([&] { (void)fs::remove_all(fs::join(dir, new_dir)); });
  DH_CHECK(write_payload_files(fs::join(dir, new_dir), payload));
  DH_CHECK(replace_symlink(dir, kDataLink, new_dir));
  undo.dismiss();
  logger()->debug("volume {}: new contents in {}", dir, new_dir);
  return link_top_level(dir, payload, new_dir);
}

// ---- Directories and mounts ----

bool is_mount_point(const std::string& dir) {
  struct stat self {};
  struct stat parent {};
  if (::lstat(dir.c_str(), &self) != 0 || ::lstat(fs::join(dir, "..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

Status mount_tmpfs(const std::string& dir, mode_t mode, std::optional<int64_t> size) {
  std::string options = fmt::format("mode={:04o}", mode);
  if (size) options += fmt::format(",size={}", *size);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return sys_fail("mount tmpfs ({}) on {}", options, dir);
  return {};
}

// Makes dir when missing (undo removes it again) and a tmpfs on it when asked
// for and not there yet (undo unmounts it).
Status make_volume_dir(const std::string& dir, mode_t mode, bool tmpfs, std::optional<int64_t> tmpfs_size,
                       Rollback& undo) {
  if (!fs::exists(dir)) {
    DH_CHECK(fs::make_dirs(dir.substr(0, dir.rfind('/')), kVolumeDirMode));
    if (::mkdir(dir.c_str(), mode) != 0) return sys_fail("mkdir {}", dir);
    undo.add([dir] { (void)fs::remove_all(dir); });
    if (::chmod(dir.c_str(), mode) != 0) return sys_fail("chmod {}", dir);
  }
  if (tmpfs && !is_mount_point(dir)) {
    DH_CHECK(mount_tmpfs(dir, mode, tmpfs_size));
    undo.add([dir] {
      if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) != 0 &&
          ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
        logger()->warn("undo a volume: unmount {}: {}", dir, errno_text(errno));
    });
  }
  return {};
}

Status set_up_empty_dir(const Volume& v, const std::string& dir) {
  std::string medium = json_string(*v.source, "medium");
  if (medium != "" && medium != "Memory")
    return fail(ErrorKind::Unimplemented, "emptyDir medium {} is not supported", medium);
  std::optional<int64_t> size;
  const Json& limit = json_at(*v.source, "sizeLimit");
  if (!limit.is_null()) {
    size = quantity_bytes(limit);
    if (!size || *size < 0)
      return fail(ErrorKind::InvalidArgument, "sizeLimit {} is not a quantity", json_text(limit));
  }
  if (medium.empty()) size.reset();  // on disk, sizeLimit is an eviction threshold, not enforced here
  Rollback undo;
  DH_CHECK(make_volume_dir(dir, kEmptyDirMode, medium == "Memory", size, undo));
  undo.dismiss();
  return {};
}

Status check_host_path(const Json& source) {
  std::string path = json_string(source, "path");
  std::string type = json_string(source, "type");
  if (path.empty() || path.front() != '/')
    return fail(ErrorKind::InvalidArgument, "hostPath {} is not absolute", path);
  struct stat st {};
  bool present = ::stat(path.c_str(), &st) == 0;
  if (!present && errno != ENOENT) return sys_fail("stat {}", path);
  if (!present && type == "DirectoryOrCreate") return fs::make_dirs(path, kVolumeDirMode);
  if (!present && type == "FileOrCreate") {
    auto created = fs::open_fd(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kDefaultFileMode);
    if (!created) return tl::unexpected(created.error());
    return {};
  }
  using Check = bool (*)(mode_t);
  static const std::map<std::string, std::pair<Check, const char*>> checks = {
      {"Directory", {[](mode_t m) { return S_ISDIR(m); }, "a directory"}},
      {"DirectoryOrCreate", {[](mode_t m) { return S_ISDIR(m); }, "a directory"}},
      {"File", {[](mode_t m) { return S_ISREG(m); }, "a file"}},
      {"FileOrCreate", {[](mode_t m) { return S_ISREG(m); }, "a file"}},
      {"Socket", {[](mode_t m) { return S_ISSOCK(m); }, "a socket"}},
      {"CharDevice", {[](mode_t m) { return S_ISCHR(m); }, "a character device"}},
      {"BlockDevice", {[](mode_t m) { return S_ISBLK(m); }, "a block device"}}};
  if (type.empty()) return {};
  auto check = checks.find(type);
  if (check == checks.end()) return fail(ErrorKind::InvalidArgument, "hostPath type {} is not known", type);
  if (!present) return fail(ErrorKind::NotFound, "hostPath {} does not exist (type {})", path, type);
  if (!check->second.first(st.st_mode))
    return fail(ErrorKind::FailedPrecondition, "hostPath {} is not {} (type {})", path, check->second.second,
                type);
  return {};
}

Status set_up_atomic_volume(const Json& pod, const Volume& v, const std::string& dir,
                            const ObjectGetter& get) {
  // Everything that can fail for want of an object comes first, before
  // anything is made, and leaves an existing volume as it was.
  DH_TRY(payload, volume_payload(pod, v, get));
  Rollback undo;
  DH_CHECK(make_volume_dir(dir, kVolumeDirMode, v.kind == VolumeKind::Secret, std::nullopt, undo));
  DH_CHECK(write_atomically(dir, payload));
  undo.dismiss();
  return {};
}

Status set_up_volume(const Json& pod, const Volume& v, const std::string& pod_dir, const ObjectGetter& get) {
  std::string dir = volume_dir(pod_dir, v);
  switch (v.kind) {
    case VolumeKind::EmptyDir:
      return set_up_empty_dir(v, dir);
    case VolumeKind::HostPath:
      return check_host_path(*v.source);
    default:
      return set_up_atomic_volume(pod, v, dir, get);
  }
}

// ---- Container mounts ----

Result<std::string> real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (!resolved) return sys_fail("resolve {}", path);
  std::string out(resolved);
  std::free(resolved);
  return out;
}

bool is_within(const std::string& path, const std::string& root) {
  return path == root || (path.rfind(root, 0) == 0 && (root == "/" || path[root.size()] == '/'));
}

// Makes the missing directories of rel under root with mode, refusing to go
// through a symlink on the way (one a container planted could lead anywhere).
Status make_dirs_inside(const std::string& root, const std::string& rel, mode_t mode) {
  DH_TRY(dir, fs::open_fd(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string path = root;
  for (std::string_view seg : split(rel, '/')) {
    std::string name(seg);
    path = fs::join(path, name);
    bool made = ::mkdirat(dir.get(), name.c_str(), mode) == 0;
    if (!made && errno != EEXIST) return sys_fail("mkdir {}", path);
    UniqueFd next(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return sys_fail("open {} without following symlinks", path);
    // fchmod, not the mkdir mode: the umask must not narrow what kubelet grants.
    if (made && ::fchmod(next.get(), mode) != 0) return sys_fail("chmod {}", path);
    dir = std::move(next);
  }
  return {};
}

// volume_path/sub_path, made when missing for volumes a container writes to;
// it must not lead out of the volume (through a symlink a container planted, say).
Result<std::string> sub_path_in(const Volume& v, const std::string& volume_path,
                                const std::string& sub_path) {
  DH_TRY(rel, clean_relative_path(sub_path, true, ""));
  std::string path = fs::join(volume_path, rel);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return sys_fail("stat {}", path);
    if (v.kind != VolumeKind::EmptyDir && v.kind != VolumeKind::HostPath)
      return fail(ErrorKind::NotFound, "{} does not exist in volume {}", sub_path, v.name);
    DH_CHECK(
        make_dirs_inside(volume_path, rel, v.kind == VolumeKind::EmptyDir ? kEmptyDirMode : kVolumeDirMode));
  }
  DH_TRY(real_volume, real_path(volume_path));
  DH_TRY(real_sub, real_path(path));
  if (!is_within(real_sub, real_volume))
    return fail(ErrorKind::InvalidArgument, "{} leads out of volume {} (to {})", sub_path, v.name, real_sub);
  return path;
}

Result<std::string> sub_path_of(const Volume& v, const std::string& volume_path,
                                const std::string& sub_path) {
  return with_context(sub_path_in(v, volume_path, sub_path), "subPath {}", sub_path);
}

Result<v1::MountPropagation> propagation_of(const Json& mount, const Json& container) {
  std::string mode = json_string(mount, "mountPropagation", "None");
  if (mode == "None") return v1::PROPAGATION_PRIVATE;
  if (mode == "HostToContainer") return v1::PROPAGATION_HOST_TO_CONTAINER;
  if (mode == "Bidirectional") {
    if (!is_true(json_at(container, "securityContext"), "privileged"))
      return fail(ErrorKind::InvalidArgument, "Bidirectional mount propagation needs a privileged container");
    return v1::PROPAGATION_BIDIRECTIONAL;
  }
  return fail(ErrorKind::InvalidArgument, "mountPropagation {} is not known", mode);
}

Result<v1::Mount> make_mount(const Json& mount, const Json& container,
                             const std::map<std::string, Volume>& volumes, const std::string& pod_dir) {
  std::string name = json_string(mount, "name");
  std::string mount_path = json_string(mount, "mountPath");
  if (mount_path.empty()) return fail(ErrorKind::InvalidArgument, "volumeMount {} has no mountPath", name);
  auto found = volumes.find(name);
  if (found == volumes.end()) return fail(ErrorKind::InvalidArgument, "the pod declares no volume {}", name);
  const Volume& v = found->second;
  if (!json_string(mount, "subPathExpr").empty())
    return fail(ErrorKind::Unimplemented, "subPathExpr is not supported");
  std::string host_path =
      v.kind == VolumeKind::HostPath ? json_string(*v.source, "path") : volume_dir(pod_dir, v);
  std::string sub_path = json_string(mount, "subPath");
  if (!sub_path.empty()) {
    DH_TRY(path, sub_path_of(v, host_path, sub_path));
    host_path = std::move(path);
  }
  DH_TRY(propagation, propagation_of(mount, container));
  v1::Mount m;
  m.set_container_path(mount_path);
  m.set_host_path(host_path);
  // Kubelet mounts what it writes itself read-only, whatever the pod says.
  m.set_readonly(is_atomic_kind(v.kind) || is_true(mount, "readOnly"));
  m.set_selinux_relabel(false);
  m.set_propagation(propagation);
  return m;
}

// ---- Tear-down ----

// A mount point field of /proc/self/mountinfo, whose spaces, tabs, newlines
// and backslashes are written as octal escapes.
std::string unescape_mount_path(std::string_view s) {
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points at or under root, deepest first.
Result<std::vector<std::string>> mounts_under(const std::string& root) {
  DH_TRY(text, fs::read_file("/proc/self/mountinfo"));
  std::vector<std::string> found;
  for (std::string_view line : split(text, '\n')) {
    auto fields = split(line, ' ');
    if (fields.size() < 5) continue;
    std::string point = unescape_mount_path(fields[4]);
    if (is_within(point, root)) found.push_back(std::move(point));
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
    return depth(a) != depth(b) ? depth(a) > depth(b) : a > b;
  });
  return found;
}

Status unmount(const std::string& point) {
  if (::umount2(point.c_str(), UMOUNT_NOFOLLOW) == 0) return {};
  if (errno == EINVAL || errno == ENOENT) return {};  // gone already (or a parent's detach took it)
  if (errno != EBUSY) return sys_fail("unmount {}", point);
  // Something still holds it open: detach it from the tree now, the kernel
  // frees it when the last user lets go.
  if (::umount2(point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT)
    return sys_fail("detach mount {}", point);
  return {};
}

}  // namespace

std::string pod_directory(const std::string& root_dir, const std::string& uid) {
  return fs::join(fs::join(root_dir, "pods"), uid);
}

Status set_up_pod_volumes(const Json& pod, const std::string& pod_dir, const ObjectGetter& get) {
  DH_TRY(volumes, pod_volumes(pod));
  for (const auto& [name, v] : volumes) {
    auto made = set_up_volume(pod, v, pod_dir, get);
    if (!made) return tl::unexpected(made.error().context("volume {}", name));
  }
  return {};
}

Result<std::vector<v1::Mount>> container_mounts(const Json& pod, const Json& container,
                                                const std::string& pod_dir) {
  DH_TRY(volumes, pod_volumes(pod));
  std::vector<v1::Mount> mounts;
  const Json& list = json_at(container, "volumeMounts");
  for (const Json& mount : list.is_array() ? list : kNull) {
    auto m = make_mount(mount, container, volumes, pod_dir);
    if (!m)
      return tl::unexpected(m.error().context("container {} volumeMount {} at {}",
                                              json_string(container, "name"), json_string(mount, "name"),
                                              json_string(mount, "mountPath")));
    mounts.push_back(std::move(*m));
  }
  return mounts;
}

Status tear_down_pod_volumes(const std::string& pod_dir) {
  struct stat st {};
  if (::lstat(pod_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return sys_fail("stat {}", pod_dir);
  }
  if (S_ISDIR(st.st_mode)) {
    DH_TRY(root, real_path(pod_dir));
    // Stacked mounts show up again after the top one goes: repeat until none is left.
    for (int pass = 0;; ++pass) {
      DH_TRY(points, mounts_under(root));
      if (points.empty()) break;
      if (pass == kMaxUnmountPasses)
        return fail(ErrorKind::Internal, "{} is still mounted after {} rounds of unmounting", points.front(),
                    pass);
      for (const auto& point : points) DH_CHECK(unmount(point));
    }
  }
  auto removed = fs::remove_all(pod_dir);
  if (!removed) return tl::unexpected(removed.error().context("remove pod directory {}", pod_dir));
  return {};
}

}  // namespace deckhand::agent
