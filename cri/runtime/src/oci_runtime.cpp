#include "deckhand/runtime/oci_runtime.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"

namespace deckhand::runtime {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = s.find_first_not_of(" \n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// runc: "container does not exist"; crun: "...: No such file or directory".
bool says_missing(const std::string& err) {
  return err.find("does not exist") != std::string::npos ||
         err.find("No such file or directory") != std::string::npos;
}

Error runtime_error(const std::vector<std::string>& argv, const RunOutput& out) {
  std::string err = trim(out.err.empty() ? out.out : out.err);
  ErrorKind kind = out.timed_out ? ErrorKind::DeadlineExceeded
                   : says_missing(err) ? ErrorKind::NotFound
                   : ErrorKind::Internal;
  std::string why = out.timed_out ? "timed out" : fmt::format("exit code {}", out.exit_code);
  return Error{kind, 0, fmt::format("{} ({}){}{}", joined(argv), why, err.empty() ? "" : ": ", err)};
}

Json resources_json(const ResourceSpec& r) {
  Json j = Json::object();
  Json cpu = Json::object();
  if (r.cpu_shares) cpu["shares"] = r.cpu_shares;
  if (r.cpu_quota) cpu["quota"] = r.cpu_quota;
  if (r.cpu_period) cpu["period"] = r.cpu_period;
  if (!r.cpuset_cpus.empty()) cpu["cpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) cpu["mems"] = r.cpuset_mems;
  if (!cpu.empty()) j["cpu"] = cpu;
  if (r.memory_limit) j["memory"] = {{"limit", r.memory_limit}};
  if (!r.hugepage_limits.empty()) {
    Json pages = Json::array();
    for (auto& [size, limit] : r.hugepage_limits) pages.push_back({{"pageSize", size}, {"limit", limit}});
    j["hugepageLimits"] = pages;
  }
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

bool is_executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string find_in_search_path(const std::string& name) {
  std::string dirs = getenv("PATH") ? getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(pos, end - pos);
    pos = end + 1;
    if (!dir.empty() && is_executable(dir + "/" + name)) return dir + "/" + name;
  }
  return {};
}

}  // namespace

OciRuntime::OciRuntime(std::string binary, std::string state_root)
    : binary_(std::move(binary)), state_root_(std::move(state_root)) {}

Result<RunOutput> OciRuntime::run(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  RunOptions ro;
  ro.argv = {binary_, "--root", state_root_};
  ro.argv.insert(ro.argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  ro.timeout = timeout;
  log::get("runtime")->debug("run {}", joined(ro.argv));
  DH_TRY(out, with_context(run_process(ro), "run {}", joined(ro.argv)));
  if (out.exit_code != 0 || out.timed_out) return tl::unexpected(runtime_error(ro.argv, out));
  return out;
}

Status OciRuntime::start(const std::string& id) {
  DH_CHECK(run({"start", id}));
  return {};
}

Status OciRuntime::kill(const std::string& id, int sig, bool all) {
  std::vector<std::string> args{"kill"};
  if (all) args.push_back("--all");
  args.insert(args.end(), {id, std::to_string(sig)});
  DH_CHECK(run(std::move(args)));
  return {};
}

Status OciRuntime::remove(const std::string& id, bool force) {
  std::vector<std::string> args{"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  auto r = run(std::move(args));
  if (!r && r.error().kind != ErrorKind::NotFound) return tl::unexpected(r.error());
  return {};
}

Result<OciState> OciRuntime::state(const std::string& id) {
  DH_TRY(out, run({"state", id}));
  DH_TRY(j, parse_json(out.out, fmt::format("{} state {}", binary_, id)));
  OciState s;
  s.status = j.value("status", "");
  s.pid = j.value("pid", 0);
  if (s.status.empty()) return fail(ErrorKind::Internal, "{} state {}: no status in {}", binary_, id, trim(out.out));
  return s;
}

// The exec'd process runs under the runtime's exec, which we kill on timeout;
// the process itself is found through --pid-file and killed too, or it would
// run on inside the container.
Result<RunOutput> OciRuntime::exec(const std::string& id, const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) {
  if (args.empty()) return fail(ErrorKind::InvalidArgument, "exec in {}: no command", id);
  static std::atomic<unsigned> counter{0};
  std::string pid_file = fs::join(state_root_, fmt::format("exec-{}-{}-{}.pid", id, ::getpid(), counter++));
  RunOptions ro;
  ro.argv = {binary_, "--root", state_root_, "exec", "--pid-file", pid_file, id};
  ro.argv.insert(ro.argv.end(), args.begin(), args.end());
  ro.timeout = timeout;
  auto out = run_process(ro);
  if (out && out->timed_out) {
    if (auto text = fs::read_file(pid_file)) {
      pid_t pid = static_cast<pid_t>(std::strtol(text->c_str(), nullptr, 10));
      if (pid > 0) ::kill(pid, SIGKILL);
    }
  }
  ::unlink(pid_file.c_str());
  if (!out) return tl::unexpected(out.error().context("exec in {}", id));
  if (out->timed_out)
    return fail(ErrorKind::DeadlineExceeded, "exec in {}: {} did not finish within {} ms", id, args[0],
                timeout.count());
  // The runtime's own failures (no such container, not running) exit non-zero
  // with its message on stderr, exactly like a failing command; tell them apart
  // by what it says.
  if (out->exit_code != 0 && out->out.empty() &&
      (out->err.find("container does not exist") != std::string::npos ||
       out->err.find("cannot exec in a stopped") != std::string::npos ||
       out->err.find("cannot exec a container that has stopped") != std::string::npos))
    return tl::unexpected(runtime_error(ro.argv, *out));
  return out;
}

Status OciRuntime::update(const std::string& id, const ResourceSpec& resources) {
  RunOptions ro;
  ro.argv = {binary_, "--root", state_root_, "update", "--resources", "-", id};
  ro.stdin_data = resources_json(resources).dump();
  ro.timeout = std::chrono::seconds(30);
  DH_TRY(out, with_context(run_process(ro), "update {}", id));
  if (out.exit_code != 0 || out.timed_out) return tl::unexpected(runtime_error(ro.argv, out));
  return {};
}

std::string OciRuntime::default_binary() {
  for (const char* name : {"runc", "crun"})
    if (auto path = find_in_search_path(name); !path.empty()) return path;
  return "runc";
}

}  // namespace deckhand::runtime
