// deckhand-scheduler's settings: flags, the file, and the leader election checks.
#include "deckhand/scheduler/config.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::scheduler;

TEST_CASE("scheduler config: flags over the file, and the checks across settings") {
  test::TempDir dir;
  std::string file = dir.sub("scheduler.toml");
  REQUIRE(fs::write_file_atomic(file, "scheduler_name = \"mine\"\nleader_elect = false\nparallel_binds = 3\n"));
  test::Argv args({"deckhand-scheduler", "--config", file, "--backoff-initial-ms=50", "--backoff-max-ms", "500",
                   "--kubeconfig", "/k"});
  auto c = load_config(args.argc(), args.argv());
  REQUIRE_MESSAGE(c, c.error().message);
  CHECK(c->options.scheduler_name == "mine");
  CHECK_FALSE(c->leader_elect);
  CHECK(c->options.bind_threads == 3);
  CHECK(c->options.backoff_initial == std::chrono::milliseconds(50));
  CHECK(c->options.backoff_max == std::chrono::milliseconds(500));
  CHECK(c->kubeconfig == "/k");
  CHECK(c->leader_election.lease_name == "deckhand-scheduler");

  REQUIRE(fs::write_file_atomic(file, ""));
  auto error_of = [&file](std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"deckhand-scheduler", "--config", file});
    test::Argv argv(std::move(flags));
    auto r = load_config(argv.argc(), argv.argv());
    return r ? std::string() : r.error().message;
  };
  CHECK(error_of({"--scheduler-name", ""}) == "--scheduler-name must not be empty");
  CHECK(error_of({"--backoff-initial-ms", "900", "--backoff-max-ms", "800"}) ==
        "--backoff-max-ms must be at least --backoff-initial-ms");
  CHECK(error_of({"--leader-elect", "--leader-elect-renew-deadline-ms", "20000"}) ==
        "leader election wants 0 < retry period (2000 ms) < renew deadline (20000 ms) < lease duration (15000 ms)");
  CHECK(error_of({"--leader-elect", "false", "--leader-elect-renew-deadline-ms", "20000"}).empty());
  CHECK(error_of({"--parallel-binds", "0"}).find("--parallel-binds") != std::string::npos);
}
