// deckhandctl's command line: global options, the command table, per-command
// option parsing and help. main() only calls run().
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace deckhand::ctl {

// One command's options and arguments after parsing. Options are stored by
// long name; a flag without a value is stored with an empty value.
struct CommandArgs {
  std::map<std::string, std::vector<std::string>> options;
  std::vector<std::string> positional;

  bool flag(const std::string& name) const { return options.contains(name); }
  // The last value given, or fallback.
  std::string value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> values(const std::string& name) const;
};

// Where a command writes: stdout and stderr, or string streams in tests.
struct Io {
  std::ostream& out;
  std::ostream& err;
};

inline constexpr const char* kDefaultEndpoint = "unix:///run/deckhand/cri.sock";

// Runs deckhandctl with the arguments after the program name; returns the
// exit code (0, 1 on errors, or the exit code of an exec'd command).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace deckhand::ctl
