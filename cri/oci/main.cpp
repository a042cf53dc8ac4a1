// deckhand-oci: the runc command-line subset that deckhand-cri drives.
// Parses arguments and calls the Launcher; errors go to stderr as one line.
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "deckhand/oci/bundle_config.h"
#include "deckhand/oci/launcher.h"

using namespace deckhand;
using namespace deckhand::oci;

namespace {

constexpr const char* kUsage =
    "usage: deckhand-oci [--root DIR] COMMAND ...\n"
    "  create --bundle DIR [--pid-file FILE] ID\n"
    "  start ID | state ID | delete [--force] ID | kill [--all] ID [SIGNAL]\n"
    "  exec [--pid-file FILE] [--process FILE] [--cwd DIR] [--env K=V]... [--user UID[:GID]] ID [ARGS...]\n"
    "  update --resources FILE|- ID\n"
    "  version\n";

struct FlagSpec {
  const char* name;
  const char* short_name;  // "" when none
  bool takes_value;
};

// Flags (with values) before the first positional argument, like runc's.
struct Parsed {
  std::multimap<std::string, std::string> flags;
  std::vector<std::string> positional;
};

Result<Parsed> parse_flags(const std::vector<std::string>& args, size_t from, const std::vector<FlagSpec>& specs,
                           bool stop_at_positional) {
  Parsed out;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-' || (stop_at_positional && !out.positional.empty())) {
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const FlagSpec& s) { return name == s.name || name == s.short_name; });
    if (spec == specs.end()) return fail(ErrorKind::InvalidArgument, "unknown option {}", a);
    if (spec->takes_value && !value) {
      if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "option {} needs a value", a);
      value = args[++i];
    }
    out.flags.emplace(spec->name, value.value_or("true"));
  }
  return out;
}

std::string flag(const Parsed& p, const std::string& name) {
  auto it = p.flags.find(name);
  return it == p.flags.end() ? std::string() : it->second;
}

Result<std::string> one_id(const Parsed& p, const char* command) {
  if (p.positional.size() != 1)
    return fail(ErrorKind::InvalidArgument, "{}: expected exactly one container id", command);
  return p.positional[0];
}

Result<std::string> read_all(const std::string& path) {
  if (path != "-") {
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return sys_fail("open {}", path);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(0, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) return sys_fail("read stdin");
  return out;
}

Result<int> run_create(Launcher& l, const std::vector<std::string>& args, size_t i) {
  DH_TRY(p, parse_flags(args, i, {{"bundle", "b", true}, {"pid-file", "", true}, {"console-socket", "", true},
                                  {"no-pivot", "", false}, {"no-new-keyring", "", false}, {"preserve-fds", "", true}},
                        false));
  if (p.flags.count("console-socket"))
    return fail(ErrorKind::Unimplemented, "create: --console-socket: terminals are not supported by deckhand-oci");
  if (p.flags.count("no-pivot")) return fail(ErrorKind::Unimplemented, "create: --no-pivot is not supported");
  if (!flag(p, "preserve-fds").empty() && flag(p, "preserve-fds") != "0")
    return fail(ErrorKind::Unimplemented, "create: --preserve-fds is not supported");
  DH_TRY(id, one_id(p, "create"));
  std::string bundle = flag(p, "bundle");
  DH_CHECK(l.create({.id = id, .bundle = bundle.empty() ? "." : bundle, .pid_file = flag(p, "pid-file")}));
  return 0;
}

Result<int> run_exec(Launcher& l, const std::vector<std::string>& args, size_t i) {
  DH_TRY(p, parse_flags(args, i, {{"pid-file", "", true}, {"process", "p", true}, {"cwd", "", true},
                                  {"env", "e", true}, {"user", "u", true}, {"tty", "t", false},
                                  {"detach", "d", false}, {"console-socket", "", true}},
                        true));
  if (p.flags.count("tty") || p.flags.count("console-socket"))
    return fail(ErrorKind::Unimplemented, "exec: terminals are not supported by deckhand-oci");
  if (p.flags.count("detach")) return fail(ErrorKind::Unimplemented, "exec: --detach is not supported");
  if (p.positional.empty()) return fail(ErrorKind::InvalidArgument, "exec: no container id");
  ExecOptions o;
  o.id = p.positional[0];
  o.args.assign(p.positional.begin() + 1, p.positional.end());
  o.pid_file = flag(p, "pid-file");
  o.process_file = flag(p, "process");
  if (p.flags.count("cwd")) o.cwd = flag(p, "cwd");
  if (p.flags.count("user")) o.user = flag(p, "user");
  auto envs = p.flags.equal_range("env");
  for (auto it = envs.first; it != envs.second; ++it) o.env.push_back(it->second);
  return l.exec(o);
}

Result<int> run_command(Launcher& l, const std::string& cmd, const std::vector<std::string>& args, size_t i) {
  if (cmd == "create") return run_create(l, args, i);
  if (cmd == "exec") return run_exec(l, args, i);
  if (cmd == "start" || cmd == "state") {
    DH_TRY(p, parse_flags(args, i, {}, false));
    DH_TRY(id, one_id(p, cmd.c_str()));
    if (cmd == "start") {
      DH_CHECK(l.start(id));
    } else {
      DH_TRY(json, l.state(id));
      std::printf("%s\n", json.c_str());
    }
    return 0;
  }
  if (cmd == "kill") {
    DH_TRY(p, parse_flags(args, i, {{"all", "a", false}}, false));
    if (p.positional.empty() || p.positional.size() > 2)
      return fail(ErrorKind::InvalidArgument, "kill: expected a container id and a signal");
    DH_TRY(sig, parse_signal(p.positional.size() == 2 ? p.positional[1] : "TERM"));
    DH_CHECK(l.kill(p.positional[0], sig, p.flags.count("all") > 0));
    return 0;
  }
  if (cmd == "delete") {
    DH_TRY(p, parse_flags(args, i, {{"force", "f", false}}, false));
    DH_TRY(id, one_id(p, "delete"));
    DH_CHECK(l.remove(id, p.flags.count("force") > 0));
    return 0;
  }
  if (cmd == "update") {
    DH_TRY(p, parse_flags(args, i, {{"resources", "r", true}}, false));
    DH_TRY(id, one_id(p, "update"));
    if (!p.flags.count("resources")) return fail(ErrorKind::Unimplemented, "update: only --resources is supported");
    DH_TRY(text, read_all(flag(p, "resources")));
    DH_CHECK(l.update(id, text));
    return 0;
  }
  return fail(ErrorKind::InvalidArgument, "unknown command \"{}\"\n{}", cmd, kUsage);
}

void print_version() { std::printf("deckhand-oci version 0.1.0\nspec: %s\n", kOciVersion); }

Result<int> run(const std::vector<std::string>& args) {
  std::string root = kDefaultStateRoot;
  size_t i = 1;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    std::string a = args[i];
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> Result<std::string> {
      if (has_value) return value;
      if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "option {} needs a value", a);
      return args[++i];
    };
    if (a == "--root") {
      DH_TRY(v, take());
      root = v;
    } else if (a == "--log" || a == "--log-format" || a == "--criu" || a == "--rootless") {
      DH_TRY(v, take());  // we log nothing beyond the error line
    } else if (a == "--debug") {
    } else if (a == "--systemd-cgroup") {
      return fail(ErrorKind::Unimplemented, "--systemd-cgroup: deckhand-oci uses cgroupfs only");
    } else if (a == "--version" || a == "-v") {
      print_version();
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return fail(ErrorKind::InvalidArgument, "unknown global option {}\n{}", args[i], kUsage);
    }
  }
  if (i >= args.size()) return fail(ErrorKind::InvalidArgument, "no command\n{}", kUsage);
  const std::string& cmd = args[i];
  if (cmd == "version") {
    print_version();
    return 0;
  }
  Launcher launcher(root);
  return run_command(launcher, cmd, args, i + 1);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    auto code = run(args);
    std::fflush(stdout);
    if (code) return *code;
    std::fprintf(stderr, "deckhand-oci: %s\n", code.error().message.c_str());
  } catch (const std::exception& e) {
    // Errors are values; this only catches what a library threw unasked (bad_alloc).
    std::fprintf(stderr, "deckhand-oci: %s\n", e.what());
  }
  return 1;
}
