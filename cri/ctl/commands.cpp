#include "deckhand/ctl/commands.h"

#include <google/protobuf/util/json_util.h>
#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"
#include "deckhand/ctl/format.h"
#include "deckhand/ctl/logs.h"

namespace deckhand::ctl {
namespace rt = ::runtime::v1;
namespace pb = google::protobuf;

namespace {

// ---- JSON ------------------------------------------------------------------

// Runtimes put JSON documents into the verbose info map (containerd: "info",
// "config"): show them as JSON, other values as strings.
Json info_value(const std::string& v) {
  Json j = Json::parse(v, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(v) : j;
}

Result<Json> status_with_info(const pb::Message& status, const pb::Map<std::string, std::string>& info) {
  DH_TRY(status_json, message_to_json(status));
  Json doc = Json::object();
  doc["status"] = std::move(status_json);
  for (const auto& [k, v] : info) doc[k] = info_value(v);
  return doc;
}

template <typename M>
Result<M> message_from_json(const Json& doc, const std::string& what) {
  M m;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field should not pass silently
  auto st = pb::util::JsonStringToMessage(doc.dump(), &m, options);
  if (!st.ok()) return fail(ErrorKind::InvalidArgument, "{}: {}", what, std::string(st.message()));
  return m;
}

Result<Json> read_json_config(const std::string& path, const std::string& what) {
  auto text = fs::read_file(path);
  if (!text) return fail(text.error().kind, "read {}: {}", what, text.error().message);
  return parse_json(*text, what);
}

// ---- small helpers -----------------------------------------------------------

Result<int64_t> parse_int(const std::string& text, std::string_view flag) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    return fail(ErrorKind::InvalidArgument, "{} {:?}: not a number", flag, text);
  return v;
}

Result<std::map<std::string, std::string>> parse_labels(const CommandArgs& a) {
  std::map<std::string, std::string> labels;
  for (const auto& l : a.values("label")) {
    DH_TRY(kv, parse_label(l, "--label"));
    labels[kv.first] = kv.second;
  }
  return labels;
}

// crictl's --name and --namespace are regular expressions matched anywhere.
Result<std::optional<std::regex>> optional_regex(const CommandArgs& a, const std::string& flag) {
  if (!a.flag(flag)) return std::optional<std::regex>{};
  std::regex re(a.value(flag), std::regex::ECMAScript | std::regex::nosubs);
  // std::regex reports bad patterns by throwing, which must not escape.
  return std::optional<std::regex>(std::move(re));
}

Result<std::optional<std::regex>> regex_flag(const CommandArgs& a, const std::string& flag) {
  try {
    return optional_regex(a, flag);
  } catch (const std::regex_error& e) {
    return fail(ErrorKind::InvalidArgument, "--{} {:?}: bad regular expression: {}", flag, a.value(flag),
                e.what());
  }
}

bool matches(const std::optional<std::regex>& re, const std::string& text) {
  return !re || std::regex_search(text, *re);
}

std::string id_column(const std::string& id, const CommandArgs& a) {
  return a.flag("no-trunc") ? id : short_id(id);
}

// Lets a long RPC (a stop with a grace period, a long exec) finish before the
// per-call deadline cuts it off.
void extend_timeout(CriClient& c, int64_t seconds) {
  auto needed = std::chrono::milliseconds((seconds + 30) * 1000);
  if (seconds > 0 && c.timeout() < needed) c.set_timeout(needed);
}

const char* pod_state_name(rt::PodSandboxState s) { return s == rt::SANDBOX_READY ? "Ready" : "NotReady"; }

const char* container_state_name(rt::ContainerState s) {
  switch (s) {
    case rt::CONTAINER_CREATED:
      return "Created";
    case rt::CONTAINER_RUNNING:
      return "Running";
    case rt::CONTAINER_EXITED:
      return "Exited";
    default:
      return "Unknown";
  }
}

Result<rt::ContainerState> parse_container_state(std::string s) {
  s = ascii_lower(s);
  if (s == "created") return rt::CONTAINER_CREATED;
  if (s == "running") return rt::CONTAINER_RUNNING;
  if (s == "exited") return rt::CONTAINER_EXITED;
  if (s == "unknown") return rt::CONTAINER_UNKNOWN;
  return fail(ErrorKind::InvalidArgument, "--state {:?}: expected created, running, exited or unknown", s);
}

Result<rt::PodSandboxState> parse_pod_state(std::string s) {
  s = ascii_lower(s);
  if (s == "ready") return rt::SANDBOX_READY;
  if (s == "notready") return rt::SANDBOX_NOTREADY;
  return fail(ErrorKind::InvalidArgument, "--state {:?}: expected ready or notready", s);
}

template <typename T>
void sort_newest_first(std::vector<T>& items) {
  std::stable_sort(items.begin(), items.end(),
                   [](const T& x, const T& y) { return x.created_at() > y.created_at(); });
}

Status print_json(Io& io, const Json& doc) {
  io.out << doc.dump(2) << '\n';
  return {};
}

}  // namespace

// ---- config files and JSON output ----------------------------------------------

Result<Json> message_to_json(const pb::Message& m) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string text;
  auto st = pb::util::MessageToJsonString(m, &text, options);
  if (!st.ok())
    return fail(ErrorKind::Internal, "encode {} as JSON: {}", m.GetTypeName(), std::string(st.message()));
  return parse_json(text, m.GetTypeName());
}

Result<rt::PodSandboxConfig> read_pod_config(const std::string& path) {
  std::string what = "pod config " + path;
  DH_TRY(doc, read_json_config(path, what));
  return message_from_json<rt::PodSandboxConfig>(doc, what);
}

Result<rt::ContainerConfig> read_container_config(const std::string& path) {
  std::string what = "container config " + path;
  DH_TRY(doc, read_json_config(path, what));
  if (doc.is_object() && doc.contains("envs") && doc["envs"].is_array()) {
    for (auto& env : doc["envs"])
      if (env.is_object() && env.contains("value") && env["value"].is_string())
        env["value"] = base64_encode(env["value"].get<std::string>());
  }
  return message_from_json<rt::ContainerConfig>(doc, what);
}

// ---- runtime ---------------------------------------------------------------------

Result<int> cmd_version(CriClient& c, const CommandArgs&, Io& io) {
  DH_TRY(v, with_context(c.version(), "version"));
  io.out << "Version:  " << v.version() << "\nRuntimeName:  " << v.runtime_name()
         << "\nRuntimeVersion:  " << v.runtime_version()
         << "\nRuntimeApiVersion:  " << v.runtime_api_version() << '\n';
  return 0;
}

Result<int> cmd_info(CriClient& c, const CommandArgs&, Io& io) {
  DH_TRY(st, with_context(c.status(true), "info"));
  DH_TRY(doc, status_with_info(st.status(), st.info()));
  if (st.runtime_handlers_size() > 0) {
    Json handlers = Json::array();
    for (const auto& h : st.runtime_handlers()) {
      DH_TRY(hj, message_to_json(h));
      handlers.push_back(std::move(hj));
    }
    doc["runtimeHandlers"] = std::move(handlers);
  }
  DH_CHECK(print_json(io, doc));
  return 0;
}

// ---- pods ------------------------------------------------------------------------

namespace {

void print_pod_verbose(const rt::PodSandbox& p, Io& io) {
  io.out << "ID: " << p.id() << "\nName: " << p.metadata().name() << "\nUID: " << p.metadata().uid()
         << "\nNamespace: " << p.metadata().namespace_() << "\nAttempt: " << p.metadata().attempt()
         << "\nStatus: " << rt::PodSandboxState_Name(p.state())
         << "\nCreated: " << format_time(p.created_at()) << '\n';
  if (!p.runtime_handler().empty()) io.out << "Runtime: " << p.runtime_handler() << '\n';
  auto print_map = [&io](const char* title, const pb::Map<std::string, std::string>& m) {
    if (m.empty()) return;
    io.out << title << ":\n";
    std::map<std::string, std::string> sorted(m.begin(), m.end());
    for (const auto& [k, v] : sorted) io.out << "\t" << k << " -> " << v << '\n';
  };
  print_map("Labels", p.labels());
  print_map("Annotations", p.annotations());
  io.out << '\n';
}

Result<rt::PodSandboxFilter> pod_filter(const CommandArgs& a) {
  rt::PodSandboxFilter f;
  if (a.flag("id")) f.set_id(a.value("id"));
  if (a.flag("state")) {
    DH_TRY(state, parse_pod_state(a.value("state")));
    f.mutable_state()->set_state(state);
  }
  DH_TRY(labels, parse_labels(a));
  for (const auto& [k, v] : labels) (*f.mutable_label_selector())[k] = v;
  return f;
}

}  // namespace

Result<int> cmd_pods(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(filter, pod_filter(a));
  DH_TRY(name_re, regex_flag(a, "name"));
  DH_TRY(ns_re, regex_flag(a, "namespace"));
  DH_TRY(all, with_context(c.list_pod_sandbox(filter), "list pods"));
  std::vector<rt::PodSandbox> pods;
  for (auto& p : all)
    if (matches(name_re, p.metadata().name()) && matches(ns_re, p.metadata().namespace_())) pods.push_back(p);
  sort_newest_first(pods);
  if (a.flag("quiet")) {
    for (const auto& p : pods) io.out << p.id() << '\n';
  } else if (a.flag("verbose")) {
    for (const auto& p : pods) print_pod_verbose(p, io);
  } else {
    Table t({"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"});
    int64_t now = now_ns();
    for (const auto& p : pods)
      t.add({id_column(p.id(), a), created_ago(p.created_at(), now), pod_state_name(p.state()),
             p.metadata().name(), p.metadata().namespace_(), std::to_string(p.metadata().attempt()),
             p.runtime_handler().empty() ? "(default)" : p.runtime_handler()});
    t.print(io.out);
  }
  return 0;
}

// ---- containers --------------------------------------------------------------------

namespace {

Result<rt::ContainerFilter> container_filter(const CommandArgs& a) {
  rt::ContainerFilter f;
  if (a.flag("id")) f.set_id(a.value("id"));
  if (a.flag("pod")) f.set_pod_sandbox_id(a.value("pod"));
  if (a.flag("state")) {
    DH_TRY(state, parse_container_state(a.value("state")));
    f.mutable_state()->set_state(state);
  } else if (!a.flag("all")) {
    f.mutable_state()->set_state(rt::CONTAINER_RUNNING);
  }
  DH_TRY(labels, parse_labels(a));
  for (const auto& [k, v] : labels) (*f.mutable_label_selector())[k] = v;
  return f;
}

// The POD column: kubelet's label when there is one, else the sandbox's name.
std::string pod_name(const rt::Container& ctr, const std::map<std::string, std::string>& names) {
  auto label = ctr.labels().find("io.kubernetes.pod.name");
  if (label != ctr.labels().end()) return label->second;
  auto it = names.find(ctr.pod_sandbox_id());
  return it != names.end() ? it->second : "unknown";
}

std::string image_column(const rt::Container& ctr, const CommandArgs& a) {
  const std::string& image = ctr.image().image();
  if (image.starts_with("sha256:") && !a.flag("no-trunc")) return short_id(image);
  return image;
}

}  // namespace

Result<int> cmd_ps(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(filter, container_filter(a));
  DH_TRY(name_re, regex_flag(a, "name"));
  DH_TRY(all, with_context(c.list_containers(filter), "list containers"));
  std::vector<rt::Container> ctrs;
  for (auto& ctr : all)
    if (matches(name_re, ctr.metadata().name())) ctrs.push_back(ctr);
  sort_newest_first(ctrs);
  if (a.flag("quiet")) {
    for (const auto& ctr : ctrs) io.out << ctr.id() << '\n';
    return 0;
  }
  std::map<std::string, std::string> pod_names;
  DH_TRY(pods, with_context(c.list_pod_sandbox(), "list pods"));
  for (const auto& p : pods) pod_names[p.id()] = p.metadata().name();
  Table t({"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"});
  int64_t now = now_ns();
  for (const auto& ctr : ctrs)
    t.add({id_column(ctr.id(), a), image_column(ctr, a), created_ago(ctr.created_at(), now),
           container_state_name(ctr.state()), ctr.metadata().name(), std::to_string(ctr.metadata().attempt()),
           id_column(ctr.pod_sandbox_id(), a), pod_name(ctr, pod_names)});
  t.print(io.out);
  return 0;
}

// ---- images ------------------------------------------------------------------------

namespace {

// "registry/repo:tag" -> {"registry/repo", "tag"}; the port colon of a
// registry is not a tag separator.
std::pair<std::string, std::string> split_tag(const std::string& ref) {
  auto colon = ref.rfind(':');
  auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, "<none>"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

std::vector<std::pair<std::string, std::string>> image_names(const rt::Image& img) {
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& tag : img.repo_tags()) names.push_back(split_tag(tag));
  if (names.empty() && img.repo_digests_size() > 0) {
    const std::string& d = img.repo_digests(0);
    names.emplace_back(d.substr(0, d.find('@')), "<none>");
  }
  if (names.empty()) names.emplace_back("<none>", "<none>");
  return names;
}

Result<rt::Image> find_image(CriClient& c, const std::string& ref) {
  DH_TRY(st, c.image_status(ref, false));
  if (!st.has_image() || st.image().id().empty()) return fail(ErrorKind::NotFound, "no such image {}", ref);
  return st.image();
}

}  // namespace

Result<int> cmd_images(CriClient& c, const CommandArgs& a, Io& io) {
  rt::ImageFilter filter;
  if (!a.positional.empty()) filter.mutable_image()->set_image(a.positional[0]);
  DH_TRY(images, with_context(c.list_images(filter), "list images"));
  if (a.flag("quiet")) {
    for (const auto& img : images) io.out << img.id() << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& img : images)
    for (const auto& [repo, tag] : image_names(img))
      rows.push_back({repo, tag, id_column(img.id(), a), human_size(static_cast<double>(img.size()))});
  std::sort(rows.begin(), rows.end());
  Table t({"IMAGE", "TAG", "IMAGE ID", "SIZE"});
  for (auto& r : rows) t.add(std::move(r));
  t.print(io.out);
  return 0;
}

Result<int> cmd_inspect(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& id : a.positional) {
    DH_TRY(st, with_context(c.container_status(id, true), "inspect container {}", id));
    DH_TRY(doc, status_with_info(st.status(), st.info()));
    DH_CHECK(print_json(io, doc));
  }
  return 0;
}

Result<int> cmd_inspectp(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& id : a.positional) {
    DH_TRY(st, with_context(c.pod_sandbox_status(id, true), "inspect pod {}", id));
    DH_TRY(doc, status_with_info(st.status(), st.info()));
    DH_CHECK(print_json(io, doc));
  }
  return 0;
}

Result<int> cmd_inspecti(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& ref : a.positional) {
    DH_TRY(st, with_context(c.image_status(ref, true), "inspect image {}", ref));
    if (!st.has_image() || st.image().id().empty()) return fail(ErrorKind::NotFound, "no such image {}", ref);
    DH_TRY(doc, status_with_info(st.image(), st.info()));
    DH_CHECK(print_json(io, doc));
  }
  return 0;
}

// ---- logs and exec -----------------------------------------------------------------

Result<int> cmd_logs(CriClient& c, const CommandArgs& a, Io& io) {
  const std::string& id = a.positional.at(0);
  LogsOptions options;
  options.follow = a.flag("follow");
  options.timestamps = a.flag("timestamps");
  if (a.flag("tail")) {
    DH_TRY(tail, parse_int(a.value("tail"), "--tail"));
    options.tail = tail;
  }
  DH_TRY(st, with_context(c.container_status(id, false), "logs {}", id));
  const std::string& path = st.status().log_path();
  if (path.empty()) return fail(ErrorKind::FailedPrecondition, "logs {}: the container has no log path", id);
  auto exited = [&c, &id]() -> Result<bool> {
    auto now = c.container_status(id, false);
    if (!now)
      return now.error().kind == ErrorKind::NotFound ? Result<bool>(true) : tl::unexpected(now.error());
    return now->status().state() == rt::CONTAINER_EXITED;
  };
  DH_CHECK(with_context(print_cri_log(path, options, io.out, io.err, exited), "logs {}", id));
  return 0;
}

Result<int> cmd_exec(CriClient& c, const CommandArgs& a, Io& io) {
  if (a.flag("interactive") || a.flag("tty"))
    return fail(ErrorKind::Unimplemented,
                "exec: interactive exec (-i/-t) needs CRI streaming, which deckhandctl does not implement");
  const std::string& id = a.positional.at(0);
  std::vector<std::string> cmd(a.positional.begin() + 1, a.positional.end());
  int64_t timeout = 0;
  if (a.flag("timeout")) {
    DH_TRY(t, parse_int(a.value("timeout"), "--timeout"));
    timeout = t;
  }
  extend_timeout(c, timeout);
  DH_TRY(resp, with_context(c.exec_sync(id, cmd, timeout), "exec in container {}", id));
  io.out << resp.stdout();
  io.err << resp.stderr();
  io.out.flush();
  io.err.flush();
  return resp.exit_code();
}

// ---- lifecycle ------------------------------------------------------------------------

Result<int> cmd_runp(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(config, read_pod_config(a.positional.at(0)));
  DH_TRY(id,
         with_context(c.run_pod_sandbox(config, a.value("runtime")), "run pod {}", config.metadata().name()));
  io.out << id << '\n';
  return 0;
}

Result<int> cmd_create(CriClient& c, const CommandArgs& a, Io& io) {
  const std::string& pod = a.positional.at(0);
  DH_TRY(config, read_container_config(a.positional.at(1)));
  DH_TRY(pod_config, read_pod_config(a.positional.at(2)));
  DH_TRY(id, with_context(c.create_container(pod, config, pod_config), "create container {} in pod {}",
                          config.metadata().name(), pod));
  io.out << id << '\n';
  return 0;
}

Result<int> cmd_start(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& id : a.positional) {
    DH_CHECK(with_context(c.start_container(id), "start container {}", id));
    io.out << id << '\n';
  }
  return 0;
}

Result<int> cmd_stop(CriClient& c, const CommandArgs& a, Io& io) {
  int64_t timeout = 0;
  if (a.flag("timeout")) {
    DH_TRY(t, parse_int(a.value("timeout"), "--timeout"));
    timeout = t;
  }
  extend_timeout(c, timeout);
  for (const auto& id : a.positional) {
    DH_CHECK(with_context(c.stop_container(id, timeout), "stop container {}", id));
    io.out << id << '\n';
  }
  return 0;
}

namespace {

Result<std::vector<std::string>> ids_or_all_containers(CriClient& c, const CommandArgs& a) {
  if (!a.flag("all")) return a.positional;
  DH_TRY(ctrs, with_context(c.list_containers(), "list containers"));
  std::vector<std::string> ids;
  for (const auto& ctr : ctrs) ids.push_back(ctr.id());
  return ids;
}

Result<std::vector<std::string>> ids_or_all_pods(CriClient& c, const CommandArgs& a) {
  if (!a.flag("all")) return a.positional;
  DH_TRY(pods, with_context(c.list_pod_sandbox(), "list pods"));
  std::vector<std::string> ids;
  for (const auto& p : pods) ids.push_back(p.id());
  return ids;
}

Status remove_one_container(CriClient& c, const std::string& id, bool force) {
  DH_TRY(st, c.container_status(id, false));
  if (st.status().state() == rt::CONTAINER_RUNNING) {
    if (!force) return fail(ErrorKind::FailedPrecondition, "container is running: stop it first or use -f");
    DH_CHECK(c.stop_container(id, 0));
  }
  return c.remove_container(id);
}

Status remove_one_pod(CriClient& c, const std::string& id, bool force) {
  DH_TRY(st, c.pod_sandbox_status(id, false));
  if (st.status().state() == rt::SANDBOX_READY) {
    if (!force) return fail(ErrorKind::FailedPrecondition, "pod sandbox is ready: stop it first or use -f");
    DH_CHECK(c.stop_pod_sandbox(id));
  }
  return c.remove_pod_sandbox(id);
}

}  // namespace

Result<int> cmd_rm(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(ids, ids_or_all_containers(c, a));
  for (const auto& id : ids) {
    DH_CHECK(with_context(remove_one_container(c, id, a.flag("force")), "remove container {}", id));
    io.out << id << '\n';
  }
  return 0;
}

Result<int> cmd_stopp(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& id : a.positional) {
    DH_CHECK(with_context(c.stop_pod_sandbox(id), "stop pod {}", id));
    io.out << "Stopped sandbox " << id << '\n';
  }
  return 0;
}

Result<int> cmd_rmp(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(ids, ids_or_all_pods(c, a));
  for (const auto& id : ids) {
    DH_CHECK(with_context(remove_one_pod(c, id, a.flag("force")), "remove pod {}", id));
    io.out << "Removed sandbox " << id << '\n';
  }
  return 0;
}

// ---- image commands -------------------------------------------------------------------

Result<int> cmd_pull(CriClient& c, const CommandArgs& a, Io& io) {
  const std::string& ref = a.positional.at(0);
  rt::AuthConfig auth;
  if (a.flag("creds")) {
    std::string creds = a.value("creds");
    auto colon = creds.find(':');
    if (colon == std::string::npos)
      return fail(ErrorKind::InvalidArgument,
                  "--creds: expected USERNAME:PASSWORD (deckhandctl does not prompt)");
    auth.set_username(creds.substr(0, colon));
    auth.set_password(creds.substr(colon + 1));
  }
  if (a.flag("auth")) auth.set_auth(a.value("auth"));
  std::optional<rt::PodSandboxConfig> pod;
  if (a.flag("pod-config")) {
    DH_TRY(p, read_pod_config(a.value("pod-config")));
    pod = std::move(p);
  }
  DH_TRY(image_ref, with_context(c.pull_image(ref, auth, pod ? &*pod : nullptr), "pull image {}", ref));
  io.out << "Image is up to date for " << image_ref << '\n';
  return 0;
}

Result<int> cmd_rmi(CriClient& c, const CommandArgs& a, Io& io) {
  for (const auto& ref : a.positional) {
    DH_TRY(img, with_context(find_image(c, ref), "remove image {}", ref));
    DH_CHECK(with_context(c.remove_image(img.id()), "remove image {}", ref));
    for (const auto& tag : img.repo_tags()) io.out << "Deleted: " << tag << '\n';
    if (img.repo_tags().empty()) io.out << "Deleted: " << img.id() << '\n';
  }
  return 0;
}

Result<int> cmd_import(CriClient& c, const CommandArgs& a, Io& io) {
  const std::string& given = a.positional.at(0);
  // The daemon opens the path, from its own working directory: send it absolute.
  char* resolved = ::realpath(given.c_str(), nullptr);
  if (!resolved) return fail(ErrorKind::NotFound, "import {}: {}", given, errno_text(errno));
  std::string path(resolved);
  ::free(resolved);
  DH_TRY(images, with_context(c.import_image(path), "import {}", given));
  for (const auto& img : images) {
    std::vector<std::string> names(img.repo_tags().begin(), img.repo_tags().end());
    if (names.empty()) names.assign(img.repo_digests().begin(), img.repo_digests().end());
    if (names.empty()) names.push_back("<none>");
    for (const auto& n : names) io.out << "Imported " << n << " " << img.id() << '\n';
  }
  return 0;
}

// ---- stats -------------------------------------------------------------------------------

namespace {

Result<std::chrono::milliseconds> sample_interval(const CommandArgs& a) {
  if (!a.flag("seconds")) return std::chrono::milliseconds(1000);
  DH_TRY(d, parse_duration(a.value("seconds")));
  return d;
}

// CPU % of one object between two samples of its CpuUsage; without a first
// sample (it appeared in between), the runtime's own nano-cores figure.
Result<double> cpu_between(const rt::CpuUsage* before, const rt::CpuUsage& after) {
  if (!before || !before->has_usage_core_nano_seconds() || !after.has_usage_core_nano_seconds())
    return static_cast<double>(after.usage_nano_cores().value()) / 1e7;
  return cpu_percent(before->usage_core_nano_seconds().value(), before->timestamp(),
                     after.usage_core_nano_seconds().value(), after.timestamp());
}

Result<rt::ContainerStatsFilter> stats_filter(const CommandArgs& a) {
  rt::ContainerStatsFilter f;
  if (!a.positional.empty()) f.set_id(a.positional[0]);
  if (a.flag("id")) f.set_id(a.value("id"));
  if (a.flag("pod")) f.set_pod_sandbox_id(a.value("pod"));
  DH_TRY(labels, parse_labels(a));
  for (const auto& [k, v] : labels) (*f.mutable_label_selector())[k] = v;
  return f;
}

// Without -a, only running containers, as crictl shows them.
Result<std::set<std::string>> running_containers(CriClient& c) {
  rt::ContainerFilter f;
  f.mutable_state()->set_state(rt::CONTAINER_RUNNING);
  DH_TRY(ctrs, c.list_containers(f));
  std::set<std::string> ids;
  for (const auto& ctr : ctrs) ids.insert(ctr.id());
  return ids;
}

std::string used(const rt::UInt64Value& v) { return human_size(static_cast<double>(v.value())); }

}  // namespace

Result<int> cmd_stats(CriClient& c, const CommandArgs& a, Io& io) {
  DH_TRY(filter, stats_filter(a));
  DH_TRY(interval, sample_interval(a));
  DH_TRY(first, with_context(c.list_container_stats(filter), "container stats"));
  std::this_thread::sleep_for(interval);
  DH_TRY(second, with_context(c.list_container_stats(filter), "container stats"));
  std::optional<std::set<std::string>> running;
  if (!a.flag("all")) {
    DH_TRY(ids, with_context(running_containers(c), "container stats"));
    running = std::move(ids);
  }
  std::map<std::string, const rt::ContainerStats*> before;
  for (const auto& s : first) before[s.attributes().id()] = &s;
  Table t({"CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"});
  for (const auto& s : second) {
    const std::string& id = s.attributes().id();
    if (running && !running->contains(id)) continue;
    auto b = before.find(id);
    DH_TRY(cpu, with_context(cpu_between(b == before.end() ? nullptr : &b->second->cpu(), s.cpu()),
                             "container stats {}", short_id(id)));
    t.add({id_column(id, a), s.attributes().metadata().name(), fmt::format("{:.2f}", cpu),
           used(s.memory().working_set_bytes()), used(s.writable_layer().used_bytes()),
           std::to_string(s.writable_layer().inodes_used().value())});
  }
  t.print(io.out);
  return 0;
}

Result<int> cmd_statsp(CriClient& c, const CommandArgs& a, Io& io) {
  rt::PodSandboxStatsFilter filter;
  if (!a.positional.empty()) filter.set_id(a.positional[0]);
  if (a.flag("id")) filter.set_id(a.value("id"));
  DH_TRY(labels, parse_labels(a));
  for (const auto& [k, v] : labels) (*filter.mutable_label_selector())[k] = v;
  DH_TRY(interval, sample_interval(a));
  DH_TRY(first, with_context(c.list_pod_sandbox_stats(filter), "pod stats"));
  std::this_thread::sleep_for(interval);
  DH_TRY(second, with_context(c.list_pod_sandbox_stats(filter), "pod stats"));
  std::map<std::string, const rt::PodSandboxStats*> before;
  for (const auto& s : first) before[s.attributes().id()] = &s;
  Table t({"POD", "POD ID", "CPU %", "MEM"});
  for (const auto& s : second) {
    const std::string& id = s.attributes().id();
    auto b = before.find(id);
    DH_TRY(cpu,
           with_context(cpu_between(b == before.end() ? nullptr : &b->second->linux().cpu(), s.linux().cpu()),
                        "pod stats {}", short_id(id)));
    t.add({s.attributes().metadata().name(), id_column(id, a), fmt::format("{:.2f}", cpu),
           used(s.linux().memory().working_set_bytes())});
  }
  t.print(io.out);
  return 0;
}

}  // namespace deckhand::ctl
