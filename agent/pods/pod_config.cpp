#include "pod_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "deckhand/api/quantity.h"
#include "deckhand/common/base64.h"
#include "deckhand/common/text.h"

namespace deckhand::agent {

namespace v1 = ::runtime::v1;

namespace {

const Json kNull;

constexpr int64_t kMinShares = 2;       // what a container without a CPU request gets, as kubelet
constexpr int64_t kCfsPeriod = 100000;  // microseconds
constexpr int64_t kMinQuota = 1000;

bool is_true(const Json& obj, const char* key) {
  const Json& v = json_at(obj, key);
  return v.is_boolean() && v.get<bool>();
}

// A quantity's value (cores, bytes) as a double, for the arithmetic of env and shares.
std::optional<double> quantity_value(const Json& q) {
  auto v = api::quantity_number(q);
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

const Json& resource_of(const Json& container, const char* kind, const char* name) {
  return json_at(json_at(json_at(container, "resources"), kind), name);
}

// dnsPolicy's nameservers, search list and options before the pod's dnsConfig is merged in.
ResolvConf policy_dns(const Json& pod, const PodSettings& s) {
  const Json& spec = json_at(pod, "spec");
  std::string policy = json_string(spec, "dnsPolicy", "ClusterFirst");
  bool host_network = is_true(spec, "hostNetwork");
  bool cluster = (policy == "ClusterFirst" && !host_network) || policy == "ClusterFirstWithHostNet";
  if (policy == "None") return {};
  if (!cluster || s.cluster_dns.empty()) return s.host_dns;
  ResolvConf r;
  r.servers = s.cluster_dns;
  std::string ns = json_string(json_at(pod, "metadata"), "namespace", "default");
  r.searches = {ns + ".svc." + s.cluster_domain, "svc." + s.cluster_domain, s.cluster_domain};
  for (auto& d : s.host_dns.searches) r.searches.push_back(d);
  r.options = {"ndots:5"};
  return r;
}

void add_unique(std::vector<std::string>& to, const std::string& v) {
  if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
}

// Options by name ("ndots:5" is named "ndots"): the pod's replace the policy's.
void merge_option(std::vector<std::string>& to, const std::string& opt) {
  std::string name = opt.substr(0, opt.find(':'));
  auto same = [&](const std::string& o) { return o.substr(0, o.find(':')) == name; };
  to.erase(std::remove_if(to.begin(), to.end(), same), to.end());
  to.push_back(opt);
}

Result<std::string> field_ref_value(const Json& pod, const std::string& path, const std::string& pod_ip,
                                    const PodSettings& s) {
  const Json& meta = json_at(pod, "metadata");
  const Json& spec = json_at(pod, "spec");
  if (path == "metadata.name") return json_string(meta, "name");
  if (path == "metadata.namespace") return json_string(meta, "namespace");
  if (path == "metadata.uid") return json_string(meta, "uid");
  if (path == "spec.nodeName") return json_string(spec, "nodeName", s.node_name);
  if (path == "spec.serviceAccountName") return json_string(spec, "serviceAccountName");
  if (path == "status.podIP" || path == "status.podIPs") return pod_ip;
  if (path == "status.hostIP" || path == "status.hostIPs") return s.host_ip;
  for (const char* map : {"labels", "annotations"}) {
    std::string prefix = fmt::format("metadata.{}['", map);
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + 2 &&
        path.substr(path.size() - 2) == "']") {
      std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      return json_string(json_at(meta, map), key.c_str());
    }
  }
  return fail(ErrorKind::InvalidArgument, "unsupported fieldRef {}", path);
}

void set_namespace_options(const Json& spec, v1::NamespaceOption* ns) {
  ns->set_network(is_true(spec, "hostNetwork") ? v1::NODE : v1::POD);
  ns->set_ipc(is_true(spec, "hostIPC") ? v1::NODE : v1::POD);
  ns->set_pid(is_true(spec, "hostPID")                 ? v1::NODE
              : is_true(spec, "shareProcessNamespace") ? v1::POD
                                                       : v1::CONTAINER);
}

void set_container_resources(const Json& container, v1::LinuxContainerResources* r) {
  const Json& cpu_request = resource_of(container, "requests", "cpu");
  const Json& cpu_limit = resource_of(container, "limits", "cpu");
  // A limit without a request makes the request (the API defaults it so).
  auto request = cpu_millis(cpu_request.is_null() ? cpu_limit : cpu_request).value_or(0);
  r->set_cpu_shares(std::max(kMinShares, request * 1024 / 1000));
  if (auto limit = cpu_millis(cpu_limit); limit && *limit > 0) {
    r->set_cpu_period(kCfsPeriod);
    r->set_cpu_quota(std::max(kMinQuota, *limit * kCfsPeriod / 1000));
  }
  if (auto mem = quantity_bytes(resource_of(container, "limits", "memory")); mem && *mem > 0)
    r->set_memory_limit_in_bytes(*mem);
}

void set_security_context(const Json& pod, const Json& container, v1::LinuxContainerSecurityContext* sc) {
  const Json& psc = json_at(json_at(pod, "spec"), "securityContext");
  const Json& csc = json_at(container, "securityContext");
  set_namespace_options(json_at(pod, "spec"), sc->mutable_namespace_options());
  // The container's settings win over the pod's.
  for (const Json* from : {&psc, &csc}) {
    if (json_at(*from, "runAsUser").is_number_integer())
      sc->mutable_run_as_user()->set_value(json_at(*from, "runAsUser").get<int64_t>());
    if (json_at(*from, "runAsGroup").is_number_integer())
      sc->mutable_run_as_group()->set_value(json_at(*from, "runAsGroup").get<int64_t>());
  }
  for (const Json& g :
       json_at(psc, "supplementalGroups").is_array() ? json_at(psc, "supplementalGroups") : kNull)
    if (g.is_number_integer()) sc->add_supplemental_groups(g.get<int64_t>());
  sc->set_privileged(is_true(csc, "privileged"));
  sc->set_readonly_rootfs(is_true(csc, "readOnlyRootFilesystem"));
  if (json_at(csc, "allowPrivilegeEscalation").is_boolean())
    sc->set_no_new_privs(!json_at(csc, "allowPrivilegeEscalation").get<bool>());
  const Json& caps = json_at(csc, "capabilities");
  for (const char* which : {"add", "drop"}) {
    const Json& list = json_at(caps, which);
    if (!list.is_array()) continue;
    for (const Json& c : list) {
      if (!c.is_string()) continue;
      std::string name = c.get<std::string>();
      if (name != "ALL" && name.rfind("CAP_", 0) != 0) name = "CAP_" + name;
      if (which[0] == 'a')
        sc->mutable_capabilities()->add_add_capabilities(name);
      else
        sc->mutable_capabilities()->add_drop_capabilities(name);
    }
  }
}

std::vector<std::string> string_list(const Json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const Json& s : v)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

}  // namespace

const Json& json_at(const Json& obj, const char* key) {
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string json_string(const Json& obj, const char* key, const std::string& fallback) {
  const Json& v = json_at(obj, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

const Json& pod_containers(const Json& pod, bool init) {
  return json_at(json_at(pod, "spec"), init ? "initContainers" : "containers");
}

std::string restart_policy(const Json& pod) {
  return json_string(json_at(pod, "spec"), "restartPolicy", "Always");
}

PodId PodId::of(const Json& pod) {
  const Json& meta = json_at(pod, "metadata");
  return {json_string(meta, "namespace"), json_string(meta, "name"), json_string(meta, "uid")};
}

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf r;
  for (auto line_view : split(text, '\n')) {
    std::string line(line_view.substr(0, line_view.find_first_of("#;")));
    std::vector<std::string> words;
    for (auto& w : split_nonempty(line, ' '))
      for (auto& part : split_nonempty(w, '\t')) words.push_back(part);
    if (words.size() < 2) continue;
    std::vector<std::string> rest(words.begin() + 1, words.end());
    if (words[0] == "nameserver")
      r.servers.push_back(rest[0]);
    else if (words[0] == "search" || words[0] == "domain")
      r.searches = rest;  // the last one wins, as in libc
    else if (words[0] == "options")
      r.options.insert(r.options.end(), rest.begin(), rest.end());
  }
  return r;
}

std::optional<int64_t> cpu_millis(const Json& quantity) { return api::quantity_milli(quantity); }

std::optional<int64_t> quantity_bytes(const Json& quantity) { return api::quantity_value(quantity); }

std::string qos_class(const Json& pod) {
  bool any = false, guaranteed = true;
  for (bool init : {true, false}) {
    const Json& list = pod_containers(pod, init);
    if (!list.is_array()) continue;
    for (const Json& c : list) {
      for (const char* r : {"cpu", "memory"}) {
        const Json& req = resource_of(c, "requests", r);
        const Json& lim = resource_of(c, "limits", r);
        if (!req.is_null() || !lim.is_null()) any = true;
        if (lim.is_null() || (!req.is_null() && quantity_value(req) != quantity_value(lim)))
          guaranteed = false;
      }
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

std::string pod_cgroup_parent(const Json& pod, const std::string& cgroup_root) {
  std::string qos = qos_class(pod);
  std::string leaf = "pod" + PodId::of(pod).uid;
  if (qos == "Guaranteed") return cgroup_root + "/" + leaf;
  return cgroup_root + "/" + (qos == "Burstable" ? "burstable/" : "besteffort/") + leaf;
}

std::string pod_log_directory(const Json& pod, const std::string& pod_log_dir) {
  PodId id = PodId::of(pod);
  return pod_log_dir + "/" + id.ns + "_" + id.name + "_" + id.uid;
}

Result<v1::DNSConfig> pod_dns_config(const Json& pod, const PodSettings& s) {
  ResolvConf r = policy_dns(pod, s);
  const Json& custom = json_at(json_at(pod, "spec"), "dnsConfig");
  for (auto& server : string_list(json_at(custom, "nameservers"))) add_unique(r.servers, server);
  for (auto& search : string_list(json_at(custom, "searches"))) add_unique(r.searches, search);
  const Json& options = json_at(custom, "options");
  if (options.is_array()) {
    for (const Json& o : options) {
      std::string name = json_string(o, "name");
      if (name.empty())
        return fail(ErrorKind::InvalidArgument, "spec.dnsConfig.options: an option without a name");
      std::string value = json_string(o, "value");
      merge_option(r.options, value.empty() ? name : name + ":" + value);
    }
  }
  v1::DNSConfig dns;
  for (auto& x : r.servers) dns.add_servers(x);
  for (auto& x : r.searches) dns.add_searches(x);
  for (auto& x : r.options) dns.add_options(x);
  return dns;
}

Result<v1::PodSandboxConfig> make_sandbox_config(const Json& pod, const PodSettings& s, uint32_t attempt) {
  PodId id = PodId::of(pod);
  if (id.name.empty() || id.ns.empty() || id.uid.empty())
    return fail(ErrorKind::InvalidArgument, "pod without metadata.name, namespace or uid");
  const Json& spec = json_at(pod, "spec");
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(id.name);
  c.mutable_metadata()->set_namespace_(id.ns);
  c.mutable_metadata()->set_uid(id.uid);
  c.mutable_metadata()->set_attempt(attempt);
  c.set_hostname(is_true(spec, "hostNetwork") ? s.host_name : json_string(spec, "hostname", id.name));
  c.set_log_directory(pod_log_directory(pod, s.pod_log_dir));
  DH_TRY(dns, pod_dns_config(pod, s));
  *c.mutable_dns_config() = dns;
  const Json& containers = pod_containers(pod, false);
  for (const Json& ctr : containers.is_array() ? containers : kNull) {
    const Json& ports = json_at(ctr, "ports");
    for (const Json& p : ports.is_array() ? ports : kNull) {
      const Json& host_port = json_at(p, "hostPort");
      if (!host_port.is_number_integer() || host_port.get<int64_t>() <= 0) continue;
      auto* m = c.add_port_mappings();
      std::string proto = json_string(p, "protocol", "TCP");
      m->set_protocol(proto == "UDP" ? v1::UDP : proto == "SCTP" ? v1::SCTP : v1::TCP);
      m->set_container_port(
          json_at(p, "containerPort").is_number_integer() ? json_at(p, "containerPort").get<int32_t>() : 0);
      m->set_host_port(host_port.get<int32_t>());
      m->set_host_ip(json_string(p, "hostIP"));
    }
  }
  const Json& meta = json_at(pod, "metadata");
  for (const char* which : {"labels", "annotations"}) {
    const Json& map = json_at(meta, which);
    if (!map.is_object()) continue;
    auto* out = which[0] == 'l' ? c.mutable_labels() : c.mutable_annotations();
    for (auto& [k, v] : map.items())
      if (v.is_string()) (*out)[k] = v.get<std::string>();
  }
  (*c.mutable_labels())[kPodNameLabel] = id.name;
  (*c.mutable_labels())[kPodNamespaceLabel] = id.ns;
  (*c.mutable_labels())[kPodUidLabel] = id.uid;
  auto* linux = c.mutable_linux();
  linux->set_cgroup_parent(pod_cgroup_parent(pod, s.cgroup_root));
  set_namespace_options(spec, linux->mutable_security_context()->mutable_namespace_options());
  const Json& sysctls = json_at(json_at(spec, "securityContext"), "sysctls");
  for (const Json& sc : sysctls.is_array() ? sysctls : kNull)
    (*linux->mutable_sysctls())[json_string(sc, "name")] = json_string(sc, "value");
  return c;
}

std::string expand_vars(std::string_view text, const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t close = text[i + 1] == '(' ? text.find(')', i + 2) : std::string_view::npos;
    if (close == std::string_view::npos) {
      out += text[i];
      continue;
    }
    std::string_view name = text.substr(i + 2, close - i - 2);
    // The last definition of a name counts, as for a shell's environment.
    auto it = std::find_if(env.rbegin(), env.rend(), [&](auto& kv) { return kv.first == name; });
    if (it != env.rend())
      out += it->second;
    else
      out += text.substr(i, close - i + 1);
    i = close;
  }
  return out;
}

namespace {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// A later definition replaces an earlier one in place: one entry per name, as kubelet passes them.
void set_env(EnvList& env, const std::string& name, std::string value) {
  auto it = std::find_if(env.begin(), env.end(), [&](auto& kv) { return kv.first == name; });
  if (it != env.end())
    it->second = std::move(value);
  else
    env.emplace_back(name, std::move(value));
}

// A ConfigMap's or Secret's values by key (Secret data decoded); nullopt when
// it is missing and optional.
Result<std::optional<std::map<std::string, std::string>>> referenced_values(const ContainerInputs& in,
                                                                            const std::string& resource,
                                                                            const std::string& ns,
                                                                            const Json& ref) {
  std::string name = json_string(ref, "name");
  bool optional = is_true(ref, "optional");
  const char* kind = resource == "secrets" ? "secret" : "configmap";
  if (!in.objects) return fail(ErrorKind::Internal, "{} \"{}\": no way to read it", kind, name);
  auto obj = in.objects(resource, ns, name);
  if (!obj) {
    if (obj.error().kind == ErrorKind::NotFound) {
      if (optional) return std::nullopt;
      return fail(ErrorKind::NotFound, "{} \"{}\" not found", kind, name);
    }
    return tl::unexpected(obj.error().context("read {} {}/{}", kind, ns, name));
  }
  std::map<std::string, std::string> values;
  const Json& data = json_at(*obj, "data");
  if (!data.is_object()) return std::optional(std::move(values));
  for (auto& [k, v] : data.items()) {
    if (!v.is_string()) continue;
    std::string text = v.get<std::string>();
    if (resource == "secrets") {
      DH_TRY(decoded, with_context(base64_decode(text), "secret {}/{} key {}", ns, name, k));
      values[k] = std::move(decoded);
    } else {
      values[k] = std::move(text);
    }
  }
  return std::optional(std::move(values));
}

// configMapKeyRef / secretKeyRef: nullopt when optional and missing.
Result<std::optional<std::string>> key_ref_value(const ContainerInputs& in, const std::string& resource,
                                                 const std::string& ns, const Json& ref) {
  DH_TRY(values, referenced_values(in, resource, ns, ref));
  if (!values) return std::optional<std::string>();
  std::string key = json_string(ref, "key");
  auto it = values->find(key);
  if (it != values->end()) return std::optional(it->second);
  if (is_true(ref, "optional")) return std::optional<std::string>();
  return fail(ErrorKind::NotFound, "couldn't find key {} in {} {}/{}", key,
              resource == "secrets" ? "Secret" : "ConfigMap", ns, json_string(ref, "name"));
}

// A C identifier-ish name, as envFrom accepts (kubelet skips the others).
bool is_env_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

Status add_env_from(const Json& container, const ContainerInputs& in, const std::string& ns, EnvList& env) {
  const Json& list = json_at(container, "envFrom");
  for (const Json& source : list.is_array() ? list : kNull) {
    std::string prefix = json_string(source, "prefix");
    bool secret = !json_at(source, "secretRef").is_null();
    const Json& ref = json_at(source, secret ? "secretRef" : "configMapRef");
    if (ref.is_null()) return fail(ErrorKind::InvalidArgument, "envFrom entry without configMapRef or secretRef");
    DH_TRY(values, referenced_values(in, secret ? "secrets" : "configmaps", ns, ref));
    if (!values) continue;
    for (auto& [k, v] : *values)
      if (is_env_name(prefix + k)) set_env(env, prefix + k, v);
  }
  return {};
}

// resourceFieldRef: the quantity divided by the divisor, rounded up (a limit
// the container does not set is the node's allocatable).
Result<std::string> resource_field_value(const Json& pod, const Json& container, const Json& ref,
                                         const PodSettings& s) {
  std::string resource = json_string(ref, "resource");
  std::string container_name = json_string(ref, "containerName");
  const Json* target = &container;
  if (!container_name.empty() && container_name != json_string(container, "name")) {
    target = nullptr;
    for (bool init : {false, true}) {
      const Json& list = pod_containers(pod, init);
      for (const Json& c : list.is_array() ? list : kNull)
        if (json_string(c, "name") == container_name) target = &c;
    }
    if (!target) return fail(ErrorKind::InvalidArgument, "resourceFieldRef: no container {}", container_name);
  }
  auto dot = resource.find('.');
  std::string kind = resource.substr(0, dot), what = dot == std::string::npos ? "" : resource.substr(dot + 1);
  if ((kind != "limits" && kind != "requests") || (what != "cpu" && what != "memory"))
    return fail(ErrorKind::InvalidArgument, "unsupported resourceFieldRef resource {}", resource);
  const Json& q = resource_of(*target, kind.c_str(), what.c_str());
  double value = 0;
  if (!q.is_null()) {
    auto v = quantity_value(q);
    if (!v) return fail(ErrorKind::InvalidArgument, "{} is not a quantity", resource);
    value = *v;
  } else if (kind == "limits") {
    value = what == "cpu" ? s.node_cpu_millis / 1000.0 : static_cast<double>(s.node_memory_bytes);
  }
  const Json& divisor_json = json_at(ref, "divisor");
  double divisor = 1;
  if (!divisor_json.is_null()) {
    auto d = quantity_value(divisor_json);
    if (!d || *d <= 0) return fail(ErrorKind::InvalidArgument, "resourceFieldRef divisor is not a positive quantity");
    divisor = *d;
  }
  return std::to_string(static_cast<int64_t>(std::ceil(value / divisor - 1e-9)));
}

Result<std::optional<std::string>> env_value_from(const Json& pod, const Json& container, const Json& from,
                                                  const ContainerInputs& in, const PodSettings& s) {
  std::string ns = json_string(json_at(pod, "metadata"), "namespace", "default");
  if (const Json& f = json_at(from, "fieldRef"); !f.is_null()) {
    DH_TRY(v, field_ref_value(pod, json_string(f, "fieldPath"), in.pod_ip, s));
    return std::optional(v);
  }
  if (const Json& r = json_at(from, "resourceFieldRef"); !r.is_null()) {
    DH_TRY(v, resource_field_value(pod, container, r, s));
    return std::optional(v);
  }
  if (const Json& c = json_at(from, "configMapKeyRef"); !c.is_null()) return key_ref_value(in, "configmaps", ns, c);
  if (const Json& k = json_at(from, "secretKeyRef"); !k.is_null()) return key_ref_value(in, "secrets", ns, k);
  return fail(ErrorKind::InvalidArgument, "valueFrom names no source");
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> container_env(const Json& pod, const Json& container,
                                                                       const ContainerInputs& in,
                                                                       const PodSettings& s) {
  EnvList env;
  std::string ns = json_string(json_at(pod, "metadata"), "namespace", "default");
  DH_CHECK(add_env_from(container, in, ns, env));
  const Json& list = json_at(container, "env");
  for (const Json& e : list.is_array() ? list : kNull) {
    std::string name = json_string(e, "name");
    if (name.empty()) return fail(ErrorKind::InvalidArgument, "an env entry without a name");
    const Json& from = json_at(e, "valueFrom");
    if (from.is_null()) {
      set_env(env, name, expand_vars(json_string(e, "value"), env));
      continue;
    }
    auto value = env_value_from(pod, container, from, in, s);
    if (!value) return tl::unexpected(value.error().context("env {}", name));
    if (*value) set_env(env, name, std::move(**value));
  }
  return env;
}

Result<v1::ContainerConfig> make_container_config(const Json& pod, const Json& container,
                                                  const ContainerInputs& in, const PodSettings& s) {
  const uint32_t restart_count = in.restart_count;
  PodId id = PodId::of(pod);
  std::string name = json_string(container, "name");
  std::string image = json_string(container, "image");
  if (name.empty() || image.empty())
    return fail(ErrorKind::InvalidArgument, "a container without a name or image");
  DH_TRY(env, container_env(pod, container, in, s));
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_attempt(restart_count);
  c.mutable_image()->set_image(image);
  c.mutable_image()->set_user_specified_image(image);
  for (auto& a : string_list(json_at(container, "command"))) c.add_command(expand_vars(a, env));
  for (auto& a : string_list(json_at(container, "args"))) c.add_args(expand_vars(a, env));
  c.set_working_dir(json_string(container, "workingDir"));
  for (auto& [k, v] : env) {
    auto* kv = c.add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& m : in.mounts) *c.add_mounts() = m;
  c.set_log_path(fmt::format("{}/{}.log", name, restart_count));
  c.set_stdin(is_true(container, "stdin"));
  c.set_stdin_once(is_true(container, "stdinOnce"));
  c.set_tty(is_true(container, "tty"));
  (*c.mutable_labels())[kPodNameLabel] = id.name;
  (*c.mutable_labels())[kPodNamespaceLabel] = id.ns;
  (*c.mutable_labels())[kPodUidLabel] = id.uid;
  (*c.mutable_labels())[kContainerNameLabel] = name;
  (*c.mutable_annotations())["io.kubernetes.container.restartCount"] = std::to_string(restart_count);
  const Json& grace = json_at(json_at(pod, "spec"), "terminationGracePeriodSeconds");
  if (grace.is_number_integer())
    (*c.mutable_annotations())["io.kubernetes.pod.terminationGracePeriod"] =
        std::to_string(grace.get<int64_t>());
  set_container_resources(container, c.mutable_linux()->mutable_resources());
  set_security_context(pod, container, c.mutable_linux()->mutable_security_context());
  return c;
}

const Json& array_or_empty(const Json& v) {
  static const Json kEmpty = Json::array();
  return v.is_array() ? v : kEmpty;
}

bool is_sidecar(const Json& init_container) { return json_string(init_container, "restartPolicy") == "Always"; }

std::string image_pull_policy(const Json& container) {
  std::string policy = json_string(container, "imagePullPolicy");
  if (!policy.empty()) return policy;
  std::string image = json_string(container, "image");
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  size_t colon = image.rfind(':');
  size_t slash = image.rfind('/');
  bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  return !tagged || image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

}  // namespace deckhand::agent
