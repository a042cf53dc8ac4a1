#include "deckhand/cni/plugin_exec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "deckhand/cni/netconf.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/common/process.h"

namespace deckhand::cni {

namespace {

// Plugin output is untrusted: keep messages readable and short.
std::string excerpt(std::string_view s, size_t max = 300) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

void log_stderr(const std::string& type, const PluginCall& call, const std::string& err) {
  if (err.empty()) return;
  log::get("cni")->info("container={} plugin={} {} stderr: {}", call.container_id, type, call.command,
                        excerpt(err, 4000));
}

}  // namespace

std::vector<std::string> plugin_environment(const PluginCall& call,
                                            const std::vector<std::string>& bin_dirs) {
  return cni_environment(call.command, call.container_id, call.netns, call.ifname, call.args, bin_dirs);
}

ErrorKind error_kind_for_code(int code) {
  switch (code) {
    case 1:  // incompatible CNI version
    case 2:  // unsupported field in network configuration
    case 7:  // invalid network config
      return ErrorKind::FailedPrecondition;
    case 3:  // container unknown or does not exist
      return ErrorKind::NotFound;
    case 11:  // try again later
    case 50:  // STATUS: the plugin is not available
    case 51:  // STATUS: limited connectivity
      return ErrorKind::Unavailable;
    default:
      return ErrorKind::Internal;
  }
}

Error plugin_error(const std::string& type, const std::string& command, int exit_code, const std::string& out,
                   const std::string& err) {
  Json parsed = Json::parse(out, nullptr, /*allow_exceptions=*/false);
  auto code = parsed.is_object() ? parsed.find("code") : parsed.end();
  if (parsed.is_object() && code != parsed.end() && code->is_number_integer()) {
    int c = code->get<int>();
    std::string msg, details;
    if (auto m = parsed.find("msg"); m != parsed.end() && m->is_string()) msg = m->get<std::string>();
    if (auto d = parsed.find("details"); d != parsed.end() && d->is_string()) details = d->get<std::string>();
    std::string text = fmt::format("CNI plugin {} {} failed (code {}): {}", type, command, c, excerpt(msg));
    if (!details.empty()) text += "; " + excerpt(details);
    return Error{error_kind_for_code(c), 0, text};
  }
  std::string said = excerpt(!err.empty() ? err : out);
  return Error{ErrorKind::Internal, 0,
               fmt::format("CNI plugin {} {} failed (exit {}){}{}", type, command, exit_code,
                           said.empty() ? "" : ": ", said)};
}

Result<Json> run_plugin(const std::string& type, const PluginCall& call, const PluginEnv& env) {
  DH_TRY(path, find_plugin(type, env.bin_dirs));
  RunOptions opts;
  opts.argv = {path};
  opts.env = plugin_environment(call, env.bin_dirs);
  opts.stdin_data = json_text(call.config);
  opts.timeout = env.timeout;
  auto out = run_process(opts);
  if (!out) return tl::unexpected(out.error().context("CNI plugin {} {}", type, call.command));
  log_stderr(type, call, out->err);
  if (out->timed_out)
    return fail(ErrorKind::DeadlineExceeded, "CNI plugin {} {} timed out after {} ms (killed)", type,
                call.command, env.timeout.count());
  if (out->exit_code != 0)
    return tl::unexpected(plugin_error(type, call.command, out->exit_code, out->out, out->err));
  if (out->out.find_first_not_of(" \t\r\n") == std::string::npos) return Json();
  return with_context(parse_json(out->out, "output"), "CNI plugin {} {}", type, call.command);
}

std::vector<std::string> result_ips(const Json& result) {
  std::vector<std::string> v4, v6;
  auto ips = result.is_object() ? result.find("ips") : result.end();
  if (!result.is_object() || ips == result.end() || !ips->is_array()) return {};
  for (const auto& ip : *ips) {
    auto addr = ip.is_object() ? ip.find("address") : ip.end();
    if (!ip.is_object() || addr == ip.end() || !addr->is_string()) continue;
    std::string a = addr->get<std::string>();
    a = a.substr(0, a.find('/'));
    if (a.empty()) continue;
    (a.find(':') == std::string::npos ? v4 : v6).push_back(std::move(a));
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

}  // namespace deckhand::cni
