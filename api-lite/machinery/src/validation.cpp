#include "deckhand/api/validation.h"
#include "deckhand/common/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "go_format.h"

namespace deckhand::api {

// ---- Go-style printing (declared in go_format.h) ----

std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string go_value(const Json& value) {
  if (value.is_string()) return go_quote(value.get<std::string>());
  return value.dump();
}

// ---- field errors ----

namespace {

Cause make_cause(const std::string& field, const char* reason, std::string body, const std::string& detail) {
  if (!detail.empty()) body += ": " + detail;
  return Cause{field, reason, std::move(body)};
}

}  // namespace

Cause field_required(const std::string& field, const std::string& detail) {
  return make_cause(field, "FieldValueRequired", "Required value", detail);
}

Cause field_invalid(const std::string& field, const Json& value, const std::string& detail) {
  return make_cause(field, "FieldValueInvalid", "Invalid value: " + go_value(value), detail);
}

Cause field_not_supported(const std::string& field, const Json& value, const std::vector<std::string>& supported) {
  std::string detail;
  for (const auto& s : supported) {
    detail += (detail.empty() ? "supported values: " : ", ") + go_quote(s);
  }
  return make_cause(field, "FieldValueNotSupported", "Unsupported value: " + go_value(value), detail);
}

Cause field_duplicate(const std::string& field, const Json& value) {
  return make_cause(field, "FieldValueDuplicate", "Duplicate value: " + go_value(value), "");
}

Cause field_forbidden(const std::string& field, const std::string& detail) {
  return make_cause(field, "FieldValueForbidden", "Forbidden", detail);
}

Cause field_too_long(const std::string& field, std::size_t max_bytes) {
  return make_cause(field, "FieldValueTooLong", "Too long", fmt::format("must have at most {} bytes", max_bytes));
}

// ---- name rules ----

namespace {

constexpr std::size_t kDns1123LabelMax = 63;
constexpr std::size_t kDns1123SubdomainMax = 253;
constexpr std::size_t kQualifiedNameMax = 63;
constexpr std::size_t kLabelValueMax = 63;
constexpr std::size_t kAnnotationsTotalMax = 256 * 1024;

const char* const kLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char* const kSubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const char* const kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const char* const kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const char* const kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character";
const char* const kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character";
const char* const kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character";
const char* const kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character";

// Kubernetes' RegexError: "<msg> (e.g. 'a' or 'b', regex used for validation is '<fmt>')".
std::string regex_error(const std::string& msg, const std::string& regex, std::initializer_list<const char*> examples) {
  std::string out = msg + " (e.g. ";
  bool first = true;
  for (const char* e : examples) {
    if (!first) out += " or ";
    first = false;
    out += fmt::format("'{}', ", e);
  }
  return out + "regex used for validation is '" + regex + "')";
}

std::string max_len_error(std::size_t n) { return fmt::format("must be no more than {} characters", n); }

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matches_label(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool matches_subdomain(std::string_view s) {
  while (true) {
    auto dot = s.find('.');
    if (!matches_label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matches_qualified_name(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

std::vector<std::string> dns1123_subdomain_errors(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1123SubdomainMax) errs.push_back(max_len_error(kDns1123SubdomainMax));
  if (!matches_subdomain(value)) errs.push_back(regex_error(kSubdomainMsg, kSubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> dns1123_label_errors(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1123LabelMax) errs.push_back(max_len_error(kDns1123LabelMax));
  if (!matches_label(value)) {
    // A valid subdomain that is no label can only be wrong by its dots.
    if (matches_subdomain(value)) {
      errs.emplace_back("must not contain dots");
    } else {
      errs.push_back(regex_error(kLabelMsg, kLabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> qualified_name_errors(const std::string& value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  auto slash = value.find('/');
  if (slash != std::string::npos) {
    if (value.find('/', slash + 1) != std::string::npos) {
      errs.push_back("a qualified name " +
                     regex_error(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return errs;
    }
    std::string prefix = value.substr(0, slash);
    name = std::string_view(value).substr(slash + 1);
    if (prefix.empty()) {
      errs.emplace_back("prefix part must be non-empty");
    } else {
      for (const auto& msg : dns1123_subdomain_errors(prefix)) errs.push_back("prefix part " + msg);
    }
  }
  if (name.empty()) {
    errs.emplace_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMax) {
    errs.push_back("name part " + max_len_error(kQualifiedNameMax));
  }
  if (!matches_qualified_name(name)) {
    errs.push_back("name part " + regex_error(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> label_value_errors(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > kLabelValueMax) errs.push_back(max_len_error(kLabelValueMax));
  if (!value.empty() && !matches_qualified_name(value)) {
    errs.push_back(regex_error(kLabelValueMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

namespace {

void add_invalid(std::vector<Cause>& out, const std::string& field, const std::string& value,
                 const std::vector<std::string>& messages) {
  for (const auto& msg : messages) out.push_back(field_invalid(field, value, msg));
}

}  // namespace

std::vector<Cause> check_dns1123_subdomain(const std::string& value, const std::string& field) {
  std::vector<Cause> causes;
  add_invalid(causes, field, value, dns1123_subdomain_errors(value));
  return causes;
}

std::vector<Cause> check_dns1123_label(const std::string& value, const std::string& field) {
  std::vector<Cause> causes;
  add_invalid(causes, field, value, dns1123_label_errors(value));
  return causes;
}

std::vector<Cause> check_labels(const Json& labels, const std::string& field) {
  std::vector<Cause> causes;
  if (labels.is_null()) return causes;
  if (!labels.is_object()) {
    causes.push_back(field_invalid(field, labels, "must be a map of strings"));
    return causes;
  }
  for (const auto& [key, value] : labels.items()) {
    add_invalid(causes, field, key, qualified_name_errors(key));
    if (!value.is_string()) {
      causes.push_back(field_invalid(field, value, "label values must be strings"));
      continue;
    }
    const auto text = value.get<std::string>();
    add_invalid(causes, field, text, label_value_errors(text));
  }
  return causes;
}

std::vector<Cause> check_annotations(const Json& annotations, const std::string& field) {
  std::vector<Cause> causes;
  if (annotations.is_null()) return causes;
  if (!annotations.is_object()) {
    causes.push_back(field_invalid(field, annotations, "must be a map of strings"));
    return causes;
  }
  std::size_t total = 0;
  for (const auto& [key, value] : annotations.items()) {
    // Annotation keys are qualified names in any case.
    add_invalid(causes, field, key, qualified_name_errors(ascii_lower(key)));
    if (!value.is_string()) {
      causes.push_back(field_invalid(field, value, "annotation values must be strings"));
      continue;
    }
    total += key.size() + value.get_ref<const std::string&>().size();
  }
  if (total > kAnnotationsTotalMax) causes.push_back(field_too_long(field, kAnnotationsTotalMax));
  return causes;
}

namespace {

void append(std::vector<Cause>& out, std::vector<Cause> more) {
  out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

const std::string* string_member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

std::vector<std::string> name_errors(const std::string& name, NameRule rule) {
  return rule == NameRule::Dns1123Label ? dns1123_label_errors(name) : dns1123_subdomain_errors(name);
}

void check_name(const Json& metadata, NameRule rule, std::vector<Cause>& causes) {
  const auto* name = string_member(metadata, "name");
  if (name && !name->empty()) {
    add_invalid(causes, "metadata.name", *name, name_errors(*name, rule));
    return;
  }
  if (metadata.contains("name") && !metadata["name"].is_null() && !metadata["name"].is_string()) {
    causes.push_back(field_invalid("metadata.name", metadata["name"], "must be a string"));
    return;
  }
  const auto* generate = string_member(metadata, "generateName");
  if (generate && !generate->empty()) {
    // A prefix may end in '-': check it as if a character followed.
    std::string masked = *generate;
    if (masked.size() > 1 && masked.back() == '-') masked.back() = 'a';
    add_invalid(causes, "metadata.generateName", *generate, name_errors(masked, rule));
    return;
  }
  causes.push_back(field_required("metadata.name", "name or generateName is required"));
}

}  // namespace

std::vector<Cause> check_object_meta(const Json& metadata, NameRule rule, bool namespaced) {
  std::vector<Cause> causes;
  if (!metadata.is_object()) {
    causes.push_back(field_required("metadata"));
    return causes;
  }
  check_name(metadata, rule, causes);
  if (namespaced) {
    const auto* ns = string_member(metadata, "namespace");
    if (!ns || ns->empty()) {
      causes.push_back(field_required("metadata.namespace"));
    } else {
      add_invalid(causes, "metadata.namespace", *ns, dns1123_label_errors(*ns));
    }
  }
  if (metadata.contains("labels")) append(causes, check_labels(metadata["labels"], "metadata.labels"));
  if (metadata.contains("annotations")) {
    append(causes, check_annotations(metadata["annotations"], "metadata.annotations"));
  }
  return causes;
}

namespace {

// A field that, when present, must be one of `supported` (given in the order
// Kubernetes prints them).
void check_enum(const Json& spec, const char* key, const std::string& field,
                const std::vector<std::string>& supported, std::vector<Cause>& causes) {
  if (!spec.contains(key) || spec[key].is_null()) return;  // defaulted elsewhere
  const Json& value = spec[key];
  if (value.is_string() && value.get_ref<const std::string&>().empty()) {
    causes.push_back(field_required(field));
    return;
  }
  if (value.is_string() &&
      std::find(supported.begin(), supported.end(), value.get_ref<const std::string&>()) != supported.end()) {
    return;
  }
  causes.push_back(field_not_supported(field, value, supported));
}

// A name that must be a unique DNS-1123 label (containers, volumes).
void check_unique_label_name(const Json& item, const std::string& path, std::set<std::string>& seen,
                             std::vector<Cause>& causes) {
  const auto* name = string_member(item, "name");
  if (!name || name->empty()) {
    causes.push_back(field_required(path + ".name"));
    return;
  }
  add_invalid(causes, path + ".name", *name, dns1123_label_errors(*name));
  if (!seen.insert(*name).second) causes.push_back(field_duplicate(path + ".name", *name));
}

void check_ports(const Json& ports, const std::string& path, std::vector<Cause>& causes) {
  if (!ports.is_array()) {
    if (!ports.is_null()) causes.push_back(field_invalid(path, ports, "must be a list"));
    return;
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const Json& port = ports[i];
    const std::string port_path = fmt::format("{}[{}]", path, i);
    const Json number = port.is_object() && port.contains("containerPort") ? port["containerPort"] : Json();
    if (number.is_null() || (number.is_number() && number.get<double>() == 0)) {
      causes.push_back(field_required(port_path + ".containerPort"));
    } else if (!number.is_number_integer() || number.get<int64_t>() < 1 || number.get<int64_t>() > 65535) {
      causes.push_back(field_invalid(port_path + ".containerPort", number, "must be between 1 and 65535, inclusive"));
    }
    if (port.is_object()) check_enum(port, "protocol", port_path + ".protocol", {"SCTP", "TCP", "UDP"}, causes);
  }
}

void check_containers(const Json& containers, const std::string& path, std::set<std::string>& names,
                      std::vector<Cause>& causes) {
  for (std::size_t i = 0; i < containers.size(); ++i) {
    const Json& container = containers[i];
    const std::string item_path = fmt::format("{}[{}]", path, i);
    check_unique_label_name(container, item_path, names, causes);
    const auto* image = string_member(container, "image");
    if (!image || image->empty()) causes.push_back(field_required(item_path + ".image"));
    if (container.is_object() && container.contains("ports")) {
      check_ports(container["ports"], item_path + ".ports", causes);
    }
  }
}

}  // namespace

std::vector<Cause> check_pod_spec(const Json& spec, const std::string& field) {
  std::vector<Cause> causes;
  if (!spec.is_object()) {
    causes.push_back(field_required(field));
    return causes;
  }
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    std::set<std::string> volume_names;
    const Json& volumes = spec["volumes"];
    for (std::size_t i = 0; i < volumes.size(); ++i) {
      check_unique_label_name(volumes[i], fmt::format("{}.volumes[{}]", field, i), volume_names, causes);
    }
  }
  std::set<std::string> container_names;
  const Json containers = spec.contains("containers") ? spec["containers"] : Json();
  if (!containers.is_array() || containers.empty()) {
    causes.push_back(field_required(field + ".containers"));
  } else {
    check_containers(containers, field + ".containers", container_names, causes);
  }
  if (spec.contains("initContainers") && spec["initContainers"].is_array()) {
    check_containers(spec["initContainers"], field + ".initContainers", container_names, causes);
  }
  check_enum(spec, "restartPolicy", field + ".restartPolicy", {"Always", "OnFailure", "Never"}, causes);
  check_enum(spec, "dnsPolicy", field + ".dnsPolicy", {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"},
             causes);
  return causes;
}

}  // namespace deckhand::api
