// Command line of deckhand-cri-bench.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::bench {

struct BenchOptions {
  int pods = 50;
  int concurrency = 1;       // pods set up and torn down at once; 1: serially
  std::string build_dir;     // default: three levels above this program
  std::string deckhand_cri;  // default: <build>/cri/server/deckhand-cri
  std::string deckhand_log_level = "info";
  std::string keep_logs;   // copy the daemons' logs here before the temp root goes
  bool containerd = true;  // --no-containerd: deckhand-cri alone (for debugging)
  bool crun = true;        // --no-crun: skip the containerd+crun attempt
  std::string deckhand_cni = "deckhand";     // CNI plugins under deckhand-cri: deckhand | reference
  std::string containerd_cni = "reference";  // and under containerd
  bool show_help = false;
};

Result<BenchOptions> parse_options(int argc, char** argv);

// Shared by the benchmarks' command lines: a number >= 1 for flag, and the
// build dir of the running program (<build>/tests/bench/<program> -> <build>).
Result<int> positive(std::string_view flag, std::string_view v);
// Walks a command line of "--flag value" pairs: -h/--help sets show_help,
// a flag in `bare` takes no value (on_flag sees an empty one), any other
// wants one. on_flag answers unknown_flag(flag) for a flag it does not know.
using FlagFn = std::function<Status(std::string_view flag, std::string_view value)>;
Status parse_flags(int argc, char** argv, bool& show_help, const FlagFn& on_flag,
                   std::initializer_list<std::string_view> bare = {});
Status unknown_flag(std::string_view flag);
Result<std::string> build_dir_of_self();
const char* usage();

}  // namespace deckhand::bench
