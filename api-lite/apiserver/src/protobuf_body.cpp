// A protobuf wire-format reader driven by a table of the Kubernetes messages
// kubectl's generators send. The table follows k8s.io/api generated.proto
// field numbers (checked against the descriptors compiled into kubectl 1.33
// and against bodies it sent). The JSON it builds is what Go's encoding/json
// makes of the same object: Kubernetes' protobuf encoder writes every plain
// (non-pointer) field, zero or not, so zero values of plain `omitempty` fields
// are dropped here, while pointer fields and fields without `omitempty`
// appear whenever they are on the wire.
#include "protobuf_body.h"

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "deckhand/common/base64.h"

namespace deckhand::apiserver {
namespace {

enum class FieldType {
  String,
  Int32,
  Int64,
  Bool,
  Bytes,        // JSON: base64
  Message,      // JSON object of another schema message
  Inline,       // a message whose fields Go's JSON puts into the parent (`json:",inline"`)
  StringMap,    // map<string, string>
  BytesMap,     // map<string, bytes>, values base64
  QuantityMap,  // map<string, Quantity>, values strings
  Time,         // metav1.Time: RFC 3339 seconds, null when zero
  IntOrString,  // number or string
  Quantity,     // string
};

// OmitZero: a plain Go field tagged `omitempty`, dropped when zero.
// Always: a pointer field, or one without `omitempty`: kept once on the wire.
enum class Presence { OmitZero, Always };

struct FieldSpec {
  uint32_t number = 0;
  std::string_view json_name;
  FieldType type = FieldType::String;
  bool repeated = false;
  Presence presence = Presence::OmitZero;
  std::string_view message;  // schema name, for Message and Inline
};

constexpr FieldSpec plain(uint32_t n, std::string_view name, FieldType t = FieldType::String) {
  return {n, name, t, false, Presence::OmitZero, {}};
}
constexpr FieldSpec always(uint32_t n, std::string_view name, FieldType t = FieldType::String) {
  return {n, name, t, false, Presence::Always, {}};
}
constexpr FieldSpec list(uint32_t n, std::string_view name, FieldType t = FieldType::String) {
  return {n, name, t, true, Presence::OmitZero, {}};
}
constexpr FieldSpec msg(uint32_t n, std::string_view name, std::string_view message) {
  return {n, name, FieldType::Message, false, Presence::Always, message};
}
constexpr FieldSpec msgs(uint32_t n, std::string_view name, std::string_view message) {
  return {n, name, FieldType::Message, true, Presence::Always, message};
}
constexpr FieldSpec embed(uint32_t n, std::string_view message) {
  return {n, {}, FieldType::Inline, false, Presence::Always, message};
}

using Schema = std::map<std::string_view, std::vector<FieldSpec>>;

constexpr auto kStringMap = FieldType::StringMap;
constexpr auto kBool = FieldType::Bool;
constexpr auto kInt32 = FieldType::Int32;
constexpr auto kInt64 = FieldType::Int64;

const Schema& schema() {
  static const Schema table = {
      // k8s.io/apimachinery meta/v1
      {"ObjectMeta",
       {plain(1, "name"), plain(2, "generateName"), plain(3, "namespace"), plain(4, "selfLink"),
        plain(5, "uid"), plain(6, "resourceVersion"), plain(7, "generation", kInt64),
        always(8, "creationTimestamp", FieldType::Time), always(9, "deletionTimestamp", FieldType::Time),
        always(10, "deletionGracePeriodSeconds", kInt64), plain(11, "labels", kStringMap),
        plain(12, "annotations", kStringMap), msgs(13, "ownerReferences", "OwnerReference"),
        list(14, "finalizers")}},
      {"OwnerReference",
       {always(1, "kind"), always(3, "name"), always(4, "uid"), always(5, "apiVersion"),
        always(6, "controller", kBool), always(7, "blockOwnerDeletion", kBool)}},
      {"LabelSelector",
       {plain(1, "matchLabels", kStringMap), msgs(2, "matchExpressions", "LabelSelectorRequirement")}},
      {"LabelSelectorRequirement", {always(1, "key"), always(2, "operator"), list(3, "values")}},
      // core/v1 objects
      {"Namespace",
       {msg(1, "metadata", "ObjectMeta"), msg(2, "spec", "NamespaceSpec"),
        msg(3, "status", "NamespaceStatus")}},
      {"NamespaceSpec", {list(1, "finalizers")}},
      {"NamespaceStatus", {plain(1, "phase")}},
      {"ConfigMap",
       {msg(1, "metadata", "ObjectMeta"), plain(2, "data", kStringMap),
        plain(3, "binaryData", FieldType::BytesMap), always(4, "immutable", kBool)}},
      {"Secret",
       {msg(1, "metadata", "ObjectMeta"), plain(2, "data", FieldType::BytesMap), plain(3, "type"),
        plain(4, "stringData", kStringMap), always(5, "immutable", kBool)}},
      {"ServiceAccount",
       {msg(1, "metadata", "ObjectMeta"), msgs(2, "secrets", "ObjectReference"),
        msgs(3, "imagePullSecrets", "LocalObjectReference"),
        always(4, "automountServiceAccountToken", kBool)}},
      {"ObjectReference",
       {plain(1, "kind"), plain(2, "namespace"), plain(3, "name"), plain(4, "uid"), plain(5, "apiVersion"),
        plain(6, "resourceVersion"), plain(7, "fieldPath")}},
      {"LocalObjectReference", {plain(1, "name")}},
      {"Service",
       {msg(1, "metadata", "ObjectMeta"), msg(2, "spec", "ServiceSpec"), msg(3, "status", "ServiceStatus")}},
      {"ServiceSpec",
       {msgs(1, "ports", "ServicePort"), plain(2, "selector", kStringMap), plain(3, "clusterIP"),
        plain(4, "type"), list(5, "externalIPs"), plain(7, "sessionAffinity"), plain(8, "loadBalancerIP"),
        list(9, "loadBalancerSourceRanges"), plain(10, "externalName"), plain(11, "externalTrafficPolicy"),
        plain(12, "healthCheckNodePort", kInt32), plain(13, "publishNotReadyAddresses", kBool),
        always(17, "ipFamilyPolicy"), list(18, "clusterIPs"), list(19, "ipFamilies"),
        always(20, "allocateLoadBalancerNodePorts", kBool), always(21, "loadBalancerClass"),
        always(22, "internalTrafficPolicy"), always(23, "trafficDistribution")}},
      {"ServicePort",
       {plain(1, "name"), plain(2, "protocol"), always(3, "port", kInt32),
        always(4, "targetPort", FieldType::IntOrString), plain(5, "nodePort", kInt32),
        always(6, "appProtocol")}},
      // Status is the server's to write: only its shape is kept, as Go's JSON shows it.
      {"ServiceStatus", {msg(1, "loadBalancer", "LoadBalancerStatus")}},
      {"LoadBalancerStatus", {}},
      // core/v1 pod templates
      {"PodTemplateSpec", {msg(1, "metadata", "ObjectMeta"), msg(2, "spec", "PodSpec")}},
      {"PodSpec",
       {msgs(1, "volumes", "Volume"),
        msgs(2, "containers", "Container"),
        plain(3, "restartPolicy"),
        always(4, "terminationGracePeriodSeconds", kInt64),
        always(5, "activeDeadlineSeconds", kInt64),
        plain(6, "dnsPolicy"),
        plain(7, "nodeSelector", kStringMap),
        plain(8, "serviceAccountName"),
        plain(9, "serviceAccount"),
        plain(10, "nodeName"),
        plain(11, "hostNetwork", kBool),
        plain(12, "hostPID", kBool),
        plain(13, "hostIPC", kBool),
        msgs(15, "imagePullSecrets", "LocalObjectReference"),
        plain(16, "hostname"),
        plain(17, "subdomain"),
        plain(19, "schedulerName"),
        msgs(20, "initContainers", "Container"),
        always(21, "automountServiceAccountToken", kBool),
        plain(24, "priorityClassName"),
        always(25, "priority", kInt32),
        always(27, "shareProcessNamespace", kBool),
        always(29, "runtimeClassName"),
        always(30, "enableServiceLinks", kBool),
        always(31, "preemptionPolicy"),
        always(35, "setHostnameAsFQDN", kBool),
        always(37, "hostUsers", kBool)}},
      {"Container",
       {always(1, "name"), plain(2, "image"), list(3, "command"), list(4, "args"), plain(5, "workingDir"),
        msgs(6, "ports", "ContainerPort"), msgs(7, "env", "EnvVar"),
        msg(8, "resources", "ResourceRequirements"), msgs(9, "volumeMounts", "VolumeMount"),
        plain(13, "terminationMessagePath"), plain(14, "imagePullPolicy"), plain(16, "stdin", kBool),
        plain(17, "stdinOnce", kBool), plain(18, "tty", kBool), plain(20, "terminationMessagePolicy"),
        always(24, "restartPolicy")}},
      {"ContainerPort",
       {plain(1, "name"), plain(2, "hostPort", kInt32), always(3, "containerPort", kInt32),
        plain(4, "protocol"), plain(5, "hostIP")}},
      {"EnvVar", {always(1, "name"), plain(2, "value")}},
      {"ResourceRequirements",
       {plain(1, "limits", FieldType::QuantityMap), plain(2, "requests", FieldType::QuantityMap)}},
      {"VolumeMount",
       {always(1, "name"), plain(2, "readOnly", kBool), always(3, "mountPath"), plain(4, "subPath"),
        always(5, "mountPropagation"), plain(6, "subPathExpr"), always(7, "recursiveReadOnly")}},
      {"Volume", {always(1, "name"), embed(2, "VolumeSource")}},
      {"VolumeSource",
       {msg(1, "hostPath", "HostPathVolumeSource"), msg(2, "emptyDir", "EmptyDirVolumeSource"),
        msg(6, "secret", "SecretVolumeSource"),
        msg(10, "persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
        msg(19, "configMap", "ConfigMapVolumeSource")}},
      {"HostPathVolumeSource", {always(1, "path"), always(2, "type")}},
      {"EmptyDirVolumeSource", {plain(1, "medium"), always(2, "sizeLimit", FieldType::Quantity)}},
      {"SecretVolumeSource",
       {plain(1, "secretName"), msgs(2, "items", "KeyToPath"), always(3, "defaultMode", kInt32),
        always(4, "optional", kBool)}},
      {"ConfigMapVolumeSource",
       {embed(1, "LocalObjectReference"), msgs(2, "items", "KeyToPath"), always(3, "defaultMode", kInt32),
        always(4, "optional", kBool)}},
      {"KeyToPath", {always(1, "key"), always(2, "path"), always(3, "mode", kInt32)}},
      {"PersistentVolumeClaimVolumeSource", {always(1, "claimName"), plain(2, "readOnly", kBool)}},
      // apps/v1
      {"Deployment",
       {msg(1, "metadata", "ObjectMeta"), msg(2, "spec", "DeploymentSpec"),
        msg(3, "status", "DeploymentStatus")}},
      {"DeploymentSpec",
       {always(1, "replicas", kInt32), msg(2, "selector", "LabelSelector"),
        msg(3, "template", "PodTemplateSpec"), msg(4, "strategy", "DeploymentStrategy"),
        plain(5, "minReadySeconds", kInt32), always(6, "revisionHistoryLimit", kInt32),
        plain(7, "paused", kBool), always(9, "progressDeadlineSeconds", kInt32)}},
      {"DeploymentStrategy", {plain(1, "type"), msg(2, "rollingUpdate", "RollingUpdateDeployment")}},
      {"RollingUpdateDeployment",
       {always(1, "maxUnavailable", FieldType::IntOrString), always(2, "maxSurge", FieldType::IntOrString)}},
      {"DeploymentStatus", {}},
      // batch/v1
      {"Job", {msg(1, "metadata", "ObjectMeta"), msg(2, "spec", "JobSpec"), msg(3, "status", "JobStatus")}},
      {"JobSpec",
       {always(1, "parallelism", kInt32), always(2, "completions", kInt32),
        always(3, "activeDeadlineSeconds", kInt64), msg(4, "selector", "LabelSelector"),
        always(5, "manualSelector", kBool), msg(6, "template", "PodTemplateSpec"),
        always(7, "backoffLimit", kInt32), always(8, "ttlSecondsAfterFinished", kInt32),
        always(9, "completionMode"), always(10, "suspend", kBool), always(12, "backoffLimitPerIndex", kInt32),
        always(13, "maxFailedIndexes", kInt32), always(14, "podReplacementPolicy"), always(15, "managedBy")}},
      {"JobStatus", {}},
  };
  return table;
}

struct KindSpec {
  std::string_view api_version;
  std::string_view kind;  // also the root message's schema name
};

constexpr KindSpec kKinds[] = {
    {"v1", "Namespace"}, {"v1", "ConfigMap"},       {"v1", "Secret"},    {"v1", "ServiceAccount"},
    {"v1", "Service"},   {"apps/v1", "Deployment"}, {"batch/v1", "Job"},
};

// Deeper than any message in the table; guards against a table that ever
// becomes recursive.
constexpr int kMaxDepth = 32;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  Result<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) return fail(ErrorKind::InvalidArgument, "truncated varint at offset {}", pos_);
      auto byte = static_cast<uint8_t>(data_[pos_++]);
      if (shift == 63 && byte > 1) return fail(ErrorKind::InvalidArgument, "varint overflows 64 bits");
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return fail(ErrorKind::InvalidArgument, "varint longer than 10 bytes at offset {}", pos_);
  }

  Result<std::string_view> length_delimited() {
    DH_TRY(length, varint());
    if (length > data_.size() - pos_)
      return fail(ErrorKind::InvalidArgument, "length {} at offset {} runs past the end ({} bytes)", length,
                  pos_, data_.size());
    auto out = data_.substr(pos_, length);
    pos_ += length;
    return out;
  }

  Status skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        DH_TRY(ignored, varint());
        (void)ignored;
        return {};
      }
      case kLengthDelimited: {
        DH_TRY(ignored, length_delimited());
        (void)ignored;
        return {};
      }
      case kFixed64:
        return skip_bytes(8);
      case kFixed32:
        return skip_bytes(4);
      default:
        return fail(ErrorKind::InvalidArgument, "unsupported wire type {} at offset {}", wire_type, pos_);
    }
  }

 private:
  Status skip_bytes(size_t n) {
    if (n > data_.size() - pos_) return fail(ErrorKind::InvalidArgument, "truncated fixed-size field");
    pos_ += n;
    return {};
  }

  std::string_view data_;
  size_t pos_ = 0;
};

struct Tag {
  uint32_t number;
  uint32_t wire_type;
};

Result<Tag> read_tag(WireReader& in) {
  DH_TRY(key, in.varint());
  uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff)
    return fail(ErrorKind::InvalidArgument, "invalid field number {}", number);
  return Tag{static_cast<uint32_t>(number), static_cast<uint32_t>(key & 7)};
}

bool valid_utf8(std::string_view s) {
  static constexpr uint32_t kMinCodePoint[] = {0, 0x80, 0x800, 0x10000};  // by continuation bytes
  size_t i = 0;
  while (i < s.size()) {
    auto lead = static_cast<uint8_t>(s[i]);
    size_t extra = lead < 0x80           ? 0
                   : (lead >> 5) == 0x6  ? 1
                   : (lead >> 4) == 0xe  ? 2
                   : (lead >> 3) == 0x1e ? 3
                                         : 4;
    if (extra == 4 || extra >= s.size() - i) return false;  // bad lead byte, or cut short
    uint32_t cp = extra == 0 ? lead : lead & (0x3fu >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      auto cont = static_cast<uint8_t>(s[i + k]);
      if ((cont & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cont & 0x3f);
    }
    if (cp < kMinCodePoint[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

Result<Json> text_value(std::string_view s) {
  if (!valid_utf8(s)) return fail(ErrorKind::InvalidArgument, "string is not valid UTF-8");
  return Json(std::string(s));
}

// Reads a small message of scalar fields given by number, ignoring the others.
// Used for the value types (Time, IntOrString, Quantity, map entries).
struct SmallFields {
  std::map<uint32_t, uint64_t> varints;
  std::map<uint32_t, std::string_view> bytes;
};

Result<SmallFields> read_small_message(std::string_view data) {
  SmallFields out;
  WireReader in(data);
  while (!in.done()) {
    DH_TRY(tag, read_tag(in));
    if (tag.wire_type == kVarint) {
      DH_TRY(v, in.varint());
      out.varints[tag.number] = v;
    } else if (tag.wire_type == kLengthDelimited) {
      DH_TRY(b, in.length_delimited());
      out.bytes[tag.number] = b;
    } else {
      DH_CHECK(in.skip(tag.wire_type));
    }
  }
  return out;
}

template <typename Map, typename Key, typename Value>
Value value_or(const Map& m, Key k, Value fallback) {
  auto it = m.find(k);
  return it == m.end() ? fallback : it->second;
}

// metav1.Time: 1 seconds, 2 nanos, as time.Unix takes them; Go writes the zero
// time as an empty message. Its JSON is whole seconds in UTC, null for the zero time.
Result<Json> time_value(std::string_view data) {
  if (data.empty()) return Json(nullptr);
  DH_TRY(fields, read_small_message(data));
  auto seconds = static_cast<int64_t>(value_or(fields.varints, 1u, uint64_t{0}));
  auto nanos = static_cast<int32_t>(value_or(fields.varints, 2u, uint64_t{0}));
  constexpr int64_t kNanosPerSecond = 1'000'000'000;
  constexpr int64_t kYear0 = -62167219200, kYear1 = -62135596800, kYear10000 = 253402300800;
  if (seconds < kYear0 || seconds >= kYear10000)
    return fail(ErrorKind::InvalidArgument, "time {} s is outside years 0-9999", seconds);
  if (seconds == kYear1 && nanos == 0) return Json(nullptr);                   // Go's zero time.Time
  seconds += nanos / kNanosPerSecond - (nanos % kNanosPerSecond < 0 ? 1 : 0);  // floor: nanos may be negative
  std::time_t t = seconds;
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr)
    return fail(ErrorKind::InvalidArgument, "time {} s cannot be represented", seconds);
  return Json(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec));
}

// intstr.IntOrString: 1 type (0 int, 1 string), 2 intVal, 3 strVal.
Result<Json> int_or_string_value(std::string_view data) {
  DH_TRY(fields, read_small_message(data));
  uint64_t type = value_or(fields.varints, 1u, uint64_t{0});
  if (type == 0) return Json(static_cast<int32_t>(value_or(fields.varints, 2u, uint64_t{0})));
  if (type == 1) return text_value(value_or(fields.bytes, 3u, std::string_view{}));
  return fail(ErrorKind::InvalidArgument, "IntOrString has unknown type {}", type);
}

// resource.Quantity: 1 string. Go writes the zero Quantity as "0".
Result<Json> quantity_value(std::string_view data) {
  DH_TRY(fields, read_small_message(data));
  std::string_view text = value_or(fields.bytes, 1u, std::string_view{});
  if (text.empty()) return Json("0");
  return text_value(text);
}

// A map entry: 1 key (string), 2 value.
Status put_map_entry(std::string_view data, FieldType type, Json& map) {
  DH_TRY(fields, read_small_message(data));
  std::string_view key = value_or(fields.bytes, 1u, std::string_view{});
  if (!valid_utf8(key)) return fail(ErrorKind::InvalidArgument, "map key is not valid UTF-8");
  std::string_view value = value_or(fields.bytes, 2u, std::string_view{});
  Result<Json> json = type == FieldType::StringMap  ? text_value(value)
                      : type == FieldType::BytesMap ? Result<Json>(Json(base64_encode(value)))
                                                    : quantity_value(value);
  if (!json) return tl::unexpected(json.error().context("map key \"{}\"", key));
  map[std::string(key)] = std::move(*json);
  return {};
}

bool is_zero(const Json& v) {
  return (v.is_string() && v.get_ref<const std::string&>().empty()) || (v.is_number() && v == 0) ||
         (v.is_boolean() && !v.get<bool>());
}

void put(Json& out, const FieldSpec& f, Json value) {
  std::string name(f.json_name);
  if (f.repeated)
    out[name].push_back(std::move(value));
  else if (f.presence == Presence::OmitZero && is_zero(value))
    out.erase(name);  // the last occurrence wins, even a zero one
  else
    out[name] = std::move(value);
}

Result<Json> scalar_value(FieldType type, uint64_t v) {
  switch (type) {
    case FieldType::Int32:
      return Json(static_cast<int32_t>(v));
    case FieldType::Int64:
      return Json(static_cast<int64_t>(v));
    case FieldType::Bool:
      return Json(v != 0);
    default:
      return fail(ErrorKind::InvalidArgument, "a varint where a length-delimited field belongs");
  }
}

bool is_varint_type(FieldType t) {
  return t == FieldType::Int32 || t == FieldType::Int64 || t == FieldType::Bool;
}

Status decode_message(std::string_view data, std::string_view message, Json& out, int depth);

// A length-delimited value of field f, written into out.
Status put_length_delimited(const FieldSpec& f, std::string_view data, Json& out, int depth) {
  switch (f.type) {
    case FieldType::String: {
      DH_TRY(v, text_value(data));
      put(out, f, std::move(v));
      return {};
    }
    case FieldType::Bytes:
      put(out, f, Json(base64_encode(data)));
      return {};
    case FieldType::Time: {
      DH_TRY(v, time_value(data));
      put(out, f, std::move(v));
      return {};
    }
    case FieldType::IntOrString: {
      DH_TRY(v, int_or_string_value(data));
      put(out, f, std::move(v));
      return {};
    }
    case FieldType::Quantity: {
      DH_TRY(v, quantity_value(data));
      put(out, f, std::move(v));
      return {};
    }
    case FieldType::StringMap:
    case FieldType::BytesMap:
    case FieldType::QuantityMap: {
      Json& map = out[std::string(f.json_name)];
      if (!map.is_object()) map = Json::object();
      return put_map_entry(data, f.type, map);
    }
    case FieldType::Inline:
      return decode_message(data, f.message, out, depth + 1);
    case FieldType::Message: {
      if (f.repeated) {
        Json item = Json::object();
        DH_CHECK(decode_message(data, f.message, item, depth + 1));
        put(out, f, std::move(item));
        return {};
      }
      // A message field seen twice is merged, as protobuf does.
      Json& slot = out[std::string(f.json_name)];
      if (!slot.is_object()) slot = Json::object();
      return decode_message(data, f.message, slot, depth + 1);
    }
    case FieldType::Int32:
    case FieldType::Int64:
    case FieldType::Bool: {
      if (!f.repeated)
        return fail(ErrorKind::InvalidArgument, "length-delimited data where a varint belongs");
      WireReader packed(data);
      while (!packed.done()) {
        DH_TRY(v, packed.varint());
        DH_TRY(json, scalar_value(f.type, v));
        put(out, f, std::move(json));
      }
      return {};
    }
  }
  return fail(ErrorKind::Internal, "unhandled field type");
}

Status decode_field(const FieldSpec& f, uint32_t wire_type, WireReader& in, Json& out, int depth) {
  if (wire_type == kVarint && is_varint_type(f.type)) {
    DH_TRY(v, in.varint());
    DH_TRY(json, scalar_value(f.type, v));
    put(out, f, std::move(json));
    return {};
  }
  if (wire_type != kLengthDelimited)
    return fail(ErrorKind::InvalidArgument, "unexpected wire type {}", wire_type);
  DH_TRY(data, in.length_delimited());
  return put_length_delimited(f, data, out, depth);
}

const FieldSpec* find_field(const std::vector<FieldSpec>& fields, uint32_t number) {
  for (const auto& f : fields)
    if (f.number == number) return &f;
  return nullptr;
}

Status decode_message(std::string_view data, std::string_view message, Json& out, int depth) {
  if (depth > kMaxDepth) return fail(ErrorKind::InvalidArgument, "messages nested deeper than {}", kMaxDepth);
  auto spec = schema().find(message);
  if (spec == schema().end()) return fail(ErrorKind::Internal, "schema has no message {}", message);
  WireReader in(data);
  while (!in.done()) {
    DH_TRY(tag, read_tag(in));
    const FieldSpec* f = find_field(spec->second, tag.number);
    if (f == nullptr) {
      DH_CHECK(in.skip(tag.wire_type));
      continue;
    }
    auto status = decode_field(*f, tag.wire_type, in, out, depth);
    if (!status) {
      std::string_view where = f->json_name.empty() ? f->message : f->json_name;
      return tl::unexpected(status.error().context("{}", where));
    }
  }
  return {};
}

// runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType.
struct Envelope {
  std::string api_version;
  std::string kind;
  std::string_view raw;
};

Result<Envelope> read_envelope(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, kMagic.size()) != kMagic)
    return fail(ErrorKind::InvalidArgument, "protobuf body does not start with the k8s\\0 magic");
  DH_TRY(unknown, read_small_message(body.substr(kMagic.size())));
  DH_TRY(type_meta, read_small_message(value_or(unknown.bytes, 1u, std::string_view{})));
  Envelope env;
  env.api_version = value_or(type_meta.bytes, 1u, std::string_view{});
  env.kind = value_or(type_meta.bytes, 2u, std::string_view{});
  env.raw = value_or(unknown.bytes, 2u, std::string_view{});
  std::string_view encoding = value_or(unknown.bytes, 3u, std::string_view{});
  if (!valid_utf8(env.api_version) || !valid_utf8(env.kind) || !valid_utf8(encoding))
    return fail(ErrorKind::InvalidArgument, "protobuf body's type names are not valid UTF-8");
  if (!encoding.empty())
    return fail(ErrorKind::InvalidArgument, "protobuf body with content encoding \"{}\" is not supported",
                encoding);
  if (env.kind.empty()) return fail(ErrorKind::InvalidArgument, "protobuf body has no kind in its typeMeta");
  return env;
}

}  // namespace

Result<Json> decode_protobuf_object(std::string_view body) {
  try {
    auto env = read_envelope(body);
    if (!env) return tl::unexpected(env.error().context("decode protobuf body"));
    const KindSpec* kind = nullptr;
    for (const auto& k : kKinds)
      if (k.api_version == env->api_version && k.kind == env->kind) kind = &k;
    if (kind == nullptr)
      return fail(ErrorKind::InvalidArgument, "protobuf bodies of kind {} ({}) are not supported; send JSON",
                  env->kind, env->api_version);
    Json object = Json::object();
    auto status = decode_message(env->raw, kind->kind, object, 0);
    if (!status) return tl::unexpected(status.error().context("decode protobuf {}", env->kind));
    object["apiVersion"] = env->api_version;
    object["kind"] = env->kind;
    return object;
  } catch (const std::exception& e) {  // allocation failure; the JSON calls above cannot throw otherwise
    return fail(ErrorKind::Internal, "decode protobuf body: {}", e.what());
  }
}

}  // namespace deckhand::apiserver
