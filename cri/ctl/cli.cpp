#include "deckhand/ctl/cli.h"

#include <stdlib.h>

#include <algorithm>
#include <optional>

#include "deckhand/common/log.h"
#include "deckhand/ctl/commands.h"
#include "deckhand/ctl/format.h"

#ifndef DECKHAND_VERSION
#define DECKHAND_VERSION "unknown"
#endif

namespace deckhand::ctl {

std::string CommandArgs::value(const std::string& name, const std::string& fallback) const {
  auto it = options.find(name);
  return it == options.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> CommandArgs::values(const std::string& name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

namespace {

struct FlagSpec {
  const char* name;
  char short_name;    // 0: none
  const char* value;  // nullptr: a flag without a value; else the value's name in help
  const char* help;
};

struct CommandSpec {
  const char* name;
  const char* arguments;  // for the usage line
  const char* summary;
  std::vector<FlagSpec> flags;
  size_t min_args;
  size_t max_args;                // SIZE_MAX: any number
  bool options_end_at_first_arg;  // exec: what follows the id is the command's own
  CommandFn fn;
};

constexpr size_t kAny = SIZE_MAX;

const FlagSpec kLabel{"label", 0, "KEY=VALUE", "filter by label (repeatable)"};
const FlagSpec kNoTrunc{"no-trunc", 0, nullptr, "do not truncate ids"};
const FlagSpec kQuiet{"quiet", 'q', nullptr, "only print ids"};

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> table = {
      {"version", "", "Show the runtime's name and versions", {}, 0, 0, false, cmd_version},
      {"info", "", "Show the runtime's status and verbose info as JSON", {}, 0, 0, false, cmd_info},
      {"pods",
       "",
       "List pod sandboxes (POD ID CREATED STATE NAME NAMESPACE ATTEMPT RUNTIME)",
       {kQuiet,
        {"id", 0, "ID", "filter by pod id"},
        {"name", 0, "REGEX", "filter by pod name (regular expression)"},
        {"namespace", 0, "REGEX", "filter by namespace (regular expression)"},
        {"state", 's', "STATE", "filter by state: ready or notready"},
        kLabel,
        {"verbose", 'v', nullptr, "show every detail of each pod"},
        kNoTrunc},
       0,
       0,
       false,
       cmd_pods},
      {"ps",
       "",
       "List containers, running ones unless -a (CONTAINER IMAGE CREATED STATE NAME ATTEMPT POD ID POD)",
       {{"all", 'a', nullptr, "show containers in every state"},
        kQuiet,
        {"id", 0, "ID", "filter by container id"},
        {"pod", 'p', "POD_ID", "filter by pod id"},
        {"name", 0, "REGEX", "filter by container name (regular expression)"},
        {"state", 's', "STATE", "filter by state: created, running, exited or unknown"},
        kLabel,
        kNoTrunc},
       0,
       0,
       false,
       cmd_ps},
      {"images",
       "[REF]",
       "List images (IMAGE TAG IMAGE ID SIZE)",
       {kQuiet, kNoTrunc},
       0,
       1,
       false,
       cmd_images},
      {"inspect",
       "ID...",
       "Show a container's status with verbose info as JSON",
       {},
       1,
       kAny,
       false,
       cmd_inspect},
      {"inspectp",
       "POD_ID...",
       "Show a pod's status with verbose info as JSON",
       {},
       1,
       kAny,
       false,
       cmd_inspectp},
      {"inspecti",
       "REF...",
       "Show an image's status with verbose info as JSON",
       {},
       1,
       kAny,
       false,
       cmd_inspecti},
      {"logs",
       "ID",
       "Print a container's log, read from its CRI log file (run on the node)",
       {{"follow", 'f', nullptr, "keep printing new lines until the container exits"},
        {"tail", 0, "N", "only the last N lines"},
        {"timestamps", 't', nullptr, "start each line with its time"}},
       1,
       1,
       false,
       cmd_logs},
      {"exec",
       "ID COMMAND [ARG...]",
       "Run a command in a container with ExecSync; exits with the command's exit code "
       "(interactive -i/-t is not implemented)",
       {{"sync", 's', nullptr, "synchronous exec (the only kind deckhandctl does)"},
        {"timeout", 0, "SECONDS", "ask the runtime to stop the command after SECONDS (0: never)"},
        {"interactive", 'i', nullptr, "not implemented"},
        {"tty", 't', nullptr, "not implemented"}},
       2,
       kAny,
       true,
       cmd_exec},
      {"runp",
       "POD_CONFIG.json",
       "Run a pod sandbox from a JSON PodSandboxConfig; prints its id",
       {{"runtime", 'r', "HANDLER", "the runtime handler to use"}},
       1,
       1,
       false,
       cmd_runp},
      {"create",
       "POD_ID CONTAINER_CONFIG.json POD_CONFIG.json",
       "Create a container in a pod from JSON configs; prints its id",
       {},
       3,
       3,
       false,
       cmd_create},
      {"start", "ID...", "Start created containers", {}, 1, kAny, false, cmd_start},
      {"stop",
       "ID...",
       "Stop running containers",
       {{"timeout", 't', "SECONDS", "grace period before the container is killed (default 0)"}},
       1,
       kAny,
       false,
       cmd_stop},
      {"rm",
       "ID...",
       "Remove containers",
       {{"force", 'f', nullptr, "stop running containers first"},
        {"all", 'a', nullptr, "remove all containers"}},
       0,
       kAny,
       false,
       cmd_rm},
      {"stopp", "POD_ID...", "Stop pod sandboxes", {}, 1, kAny, false, cmd_stopp},
      {"rmp",
       "POD_ID...",
       "Remove pod sandboxes",
       {{"force", 'f', nullptr, "stop ready pods first"}, {"all", 'a', nullptr, "remove all pods"}},
       0,
       kAny,
       false,
       cmd_rmp},
      {"pull",
       "REF",
       "Pull an image",
       {{"creds", 0, "USER:PASSWORD", "registry credentials"},
        {"auth", 0, "BASE64", "registry credentials as base64 of USER:PASSWORD"},
        {"pod-config", 'p', "POD_CONFIG.json", "the pod the image is for"}},
       1,
       1,
       false,
       cmd_pull},
      {"rmi", "REF...", "Remove images", {}, 1, kAny, false, cmd_rmi},
      {"import",
       "FILE|DIR",
       "Import an OCI layout (directory or tar) or docker-archive tar with deckhand's ImageImport service",
       {},
       1,
       1,
       false,
       cmd_import},
      {"stats",
       "[ID]",
       "Show container resource usage (CONTAINER NAME CPU % MEM DISK INODES); CPU % is measured over two "
       "samples",
       {{"all", 'a', nullptr, "include containers that are not running"},
        {"id", 0, "ID", "filter by container id"},
        {"pod", 'p', "POD_ID", "filter by pod id"},
        kLabel,
        {"seconds", 's', "DURATION", "time between the two samples (default 1s)"},
        kNoTrunc},
       0,
       1,
       false,
       cmd_stats},
      {"statsp",
       "[POD_ID]",
       "Show pod resource usage (POD POD ID CPU % MEM)",
       {{"id", 0, "POD_ID", "filter by pod id"},
        kLabel,
        {"seconds", 's', "DURATION", "time between the two samples (default 1s)"},
        kNoTrunc},
       0,
       1,
       false,
       cmd_statsp},
  };
  return table;
}

const CommandSpec* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

// ---- help ----------------------------------------------------------------------------

std::string flag_label(const FlagSpec& f) {
  std::string s = f.short_name ? fmt::format("-{}, ", f.short_name) : "    ";
  s += fmt::format("--{}", f.name);
  if (f.value) s += fmt::format(" {}", f.value);
  return s;
}

void print_flags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  size_t width = 0;
  for (const auto& f : flags) width = std::max(width, flag_label(f).size());
  for (const auto& f : flags) {
    std::string label = flag_label(f);
    out << "  " << label << std::string(width - label.size() + 2, ' ') << f.help << '\n';
  }
}

const std::vector<FlagSpec>& global_flags() {
  static const std::vector<FlagSpec> flags = {
      {"runtime-endpoint", 'r', "ENDPOINT",
       "CRI socket, unix:///path or /path (default: $CONTAINER_RUNTIME_ENDPOINT, else "
       "unix:///run/deckhand/cri.sock)"},
      {"timeout", 't', "DURATION", "deadline of each call and of connecting, e.g. 30s, 2m (default 2m)"},
      {"debug", 'D', nullptr, "log requests and responses to stderr"},
      {"help", 'h', nullptr, "show this help"},
      {"version", 'v', nullptr, "show deckhandctl's version"},
  };
  return flags;
}

void print_tool_help(std::ostream& out) {
  out << "deckhandctl: a crictl-like client for CRI runtimes (deckhand-cri, containerd)\n\n"
         "Usage: deckhandctl [global options] COMMAND [options] [arguments]\n\nGlobal options:\n";
  print_flags(out, global_flags());
  out << "\nCommands:\n";
  for (const auto& c : commands()) out << fmt::format("  {:<10}{}\n", c.name, c.summary);
  out << "\nConfig files (runp, create, pull --pod-config) are JSON in crictl's format, with proto\n"
         "(\"log_directory\") or lowerCamel (\"logDirectory\") field names; crictl's YAML is not supported.\n"
         "Run 'deckhandctl COMMAND --help' for a command's options.\n";
}

void print_command_help(std::ostream& out, const CommandSpec& c) {
  out << "Usage: deckhandctl " << c.name << (c.flags.empty() ? "" : " [options]") << (*c.arguments ? " " : "")
      << c.arguments << "\n\n"
      << c.summary << ".\n\nOptions:\n";
  std::vector<FlagSpec> flags = c.flags;
  flags.push_back({"help", 'h', nullptr, "show this help"});
  print_flags(out, flags);
}

// ---- parsing ---------------------------------------------------------------------------

const FlagSpec* find_flag(const std::vector<FlagSpec>& flags, std::string_view name, char short_name) {
  for (const auto& f : flags)
    if ((!name.empty() && name == f.name) || (short_name && short_name == f.short_name)) return &f;
  return nullptr;
}

// Parses options (--name, --name=value, --name value, -x value, -abc) and
// arguments. Returns the index in args where parsing stopped.
class OptionParser {
 public:
  OptionParser(const std::vector<FlagSpec>& flags, std::string_view what) : flags_(flags), what_(what) {}

  Status parse(const std::vector<std::string>& args, size_t from, bool stop_at_first_arg, CommandArgs& out) {
    for (size_t i = from; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--") {
        out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
        return {};
      }
      if (a.size() < 2 || a[0] != '-') {
        out.positional.push_back(a);
        if (stop_at_first_arg) {
          out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
          return {};
        }
        continue;
      }
      DH_CHECK(a[1] == '-' ? parse_long(args, i, out) : parse_short(args, i, out));
    }
    return {};
  }

 private:
  Status parse_long(const std::vector<std::string>& args, size_t& i, CommandArgs& out) {
    std::string_view body = std::string_view(args[i]).substr(2);
    auto eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    const FlagSpec* f = find_flag(flags_, name, 0);
    if (!f) return fail(ErrorKind::InvalidArgument, "unknown option --{} for {}", name, what_);
    if (!f->value) {
      if (eq != std::string_view::npos)
        return fail(ErrorKind::InvalidArgument, "option --{} takes no value", name);
      out.options[f->name].emplace_back();
      return {};
    }
    if (eq != std::string_view::npos) {
      out.options[f->name].emplace_back(body.substr(eq + 1));
      return {};
    }
    if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "option --{} needs a value", name);
    out.options[f->name].push_back(args[++i]);
    return {};
  }

  // "-aq" sets two flags; in "-tVALUE" or "-t VALUE" the value follows.
  Status parse_short(const std::vector<std::string>& args, size_t& i, CommandArgs& out) {
    const std::string& a = args[i];
    for (size_t k = 1; k < a.size(); ++k) {
      const FlagSpec* f = find_flag(flags_, {}, a[k]);
      if (!f) return fail(ErrorKind::InvalidArgument, "unknown option -{} for {}", a[k], what_);
      if (!f->value) {
        out.options[f->name].emplace_back();
        continue;
      }
      if (k + 1 < a.size()) {
        out.options[f->name].push_back(a.substr(k + 1));
      } else if (i + 1 < args.size()) {
        out.options[f->name].push_back(args[++i]);
      } else {
        return fail(ErrorKind::InvalidArgument, "option -{} needs a value", a[k]);
      }
      return {};
    }
    return {};
  }

  const std::vector<FlagSpec>& flags_;
  std::string_view what_;
};

struct GlobalOptions {
  std::string endpoint;
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  bool debug = false;
  bool help = false;
  bool version = false;
  std::string command;
  std::vector<std::string> rest;  // after the command name
};

Result<GlobalOptions> parse_globals(const std::vector<std::string>& args) {
  CommandArgs parsed;
  OptionParser parser(global_flags(), "deckhandctl");
  DH_CHECK(parser.parse(args, 0, /*stop_at_first_arg=*/true, parsed));
  GlobalOptions g;
  const char* env = ::getenv("CONTAINER_RUNTIME_ENDPOINT");
  g.endpoint = parsed.value("runtime-endpoint", env && *env ? env : kDefaultEndpoint);
  if (parsed.flag("timeout")) {
    DH_TRY(t, parse_duration(parsed.value("timeout")));
    if (t.count() <= 0) return fail(ErrorKind::InvalidArgument, "--timeout must be positive");
    g.timeout = t;
  }
  g.debug = parsed.flag("debug");
  g.help = parsed.flag("help");
  g.version = parsed.flag("version");
  if (!parsed.positional.empty()) {
    g.command = parsed.positional[0];
    g.rest.assign(parsed.positional.begin() + 1, parsed.positional.end());
  }
  return g;
}

Status check_arg_count(const CommandSpec& c, size_t n) {
  if (n >= c.min_args && n <= c.max_args) return {};
  return fail(ErrorKind::InvalidArgument, "{}: expected {}{} (see deckhandctl {} --help)", c.name,
              c.arguments, n > c.max_args ? " and nothing more" : "", c.name);
}

// rm -a and rmp -a take no ids; without -a they need at least one.
Status check_ids_or_all(const CommandSpec& c, const CommandArgs& a) {
  bool takes_all = std::string_view(c.name) == "rm" || std::string_view(c.name) == "rmp";
  if (!takes_all) return {};
  if (a.flag("all") != a.positional.empty())
    return fail(ErrorKind::InvalidArgument, "{}: give ids or -a, not both or neither", c.name);
  return {};
}

Result<int> run_command(const GlobalOptions& g, Io& io) {
  const CommandSpec* spec = find_command(g.command);
  if (!spec)
    return fail(ErrorKind::InvalidArgument, "unknown command {:?} (see deckhandctl --help)", g.command);
  CommandArgs args;
  std::vector<FlagSpec> flags = spec->flags;
  flags.push_back({"help", 'h', nullptr, ""});
  OptionParser parser(flags, spec->name);
  DH_CHECK(parser.parse(g.rest, 0, spec->options_end_at_first_arg, args));
  if (args.flag("help")) {
    print_command_help(io.out, *spec);
    return 0;
  }
  DH_CHECK(check_arg_count(*spec, args.positional.size()));
  DH_CHECK(check_ids_or_all(*spec, args));
  auto connect_timeout = std::min<std::chrono::milliseconds>(g.timeout, std::chrono::seconds(10));
  DH_TRY(client, CriClient::connect(g.endpoint, connect_timeout));
  client->set_timeout(g.timeout);
  return spec->fn(*client, args, io);
}

Result<int> run_checked(const std::vector<std::string>& args, Io& io) {
  DH_TRY(g, parse_globals(args));
  if (g.debug) log::init("debug");
  if (g.version) {
    io.out << "deckhandctl version " << DECKHAND_VERSION << '\n';
    return 0;
  }
  if (g.command == "help" && !g.rest.empty()) {
    const CommandSpec* spec = find_command(g.rest[0]);
    if (!spec) return fail(ErrorKind::InvalidArgument, "unknown command {:?}", g.rest[0]);
    print_command_help(io.out, *spec);
    return 0;
  }
  if (g.help || g.command.empty() || g.command == "help") {
    print_tool_help(io.out);
    return 0;
  }
  return run_command(g, io);
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Io io{out, err};
  auto r = run_checked(args, io);
  out.flush();
  if (!r) {
    err << "deckhandctl: " << r.error().message << '\n';
    err.flush();
    return 1;
  }
  return *r;
}

}  // namespace deckhand::ctl
