// The built deckhand-host-local run as many processes at once against one
// range: the lock file must keep every address to one owner.
#include <latch>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "test_env.h"
#include "test_util.h"

extern char** environ;

namespace deckhand::cni::host_local {
namespace {

constexpr int kCalls = 64;
constexpr auto kCallTimeout = std::chrono::seconds(60);

std::string container_id(int i) { return "conc" + std::to_string(i); }

// Our environment (sanitizer options and the like) without CNI_* values, and the call's.
std::vector<std::string> call_env(const std::string& command, const std::string& id) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (!std::string_view(*e).starts_with("CNI_")) env.emplace_back(*e);
  for (std::string kv : {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, std::string("CNI_IFNAME=eth0"),
                         std::string("CNI_NETNS=/proc/self/ns/net"), std::string("CNI_PATH=/nonexistent")})
    env.push_back(kv);
  return env;
}

// Runs `command` for conc0..conc63 all at once (each thread waits for the
// others before starting its process); each process has a deadline.
std::vector<Result<RunOutput>> run_all(const std::string& plugin, const std::string& command, const Json& config) {
  std::vector<Result<RunOutput>> out(kCalls);
  std::latch ready(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i)
    threads.emplace_back([&, i] {
      RunOptions opts;
      opts.argv = {plugin};
      opts.env = call_env(command, container_id(i));
      opts.stdin_data = config.dump();
      opts.timeout = kCallTimeout;
      ready.arrive_and_wait();
      out[i] = run_process(opts);
    });
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace

TEST_CASE("64 concurrent ADDs share a /26 without duplicates; 64 DELs release everything") {
  std::string plugin = test::build_path("cni-plugins/host-local/deckhand-host-local");
  REQUIRE_MESSAGE(fs::exists(plugin), plugin << " is not built");
  test::TempDir tmp;
  Json config = testing::net_config(tmp.path(), testing::ranges_ipam({"10.231.7.0/26"}), "concurrent", "1.0.0");
  std::string dir = tmp.sub("concurrent");

  auto adds = run_all(plugin, "ADD", config);
  std::set<std::string> handed_out;
  int exhausted = 0;
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE_MESSAGE(adds[i], adds[i].error().message);
    const RunOutput& run = *adds[i];
    INFO("call " << i << " exit " << run.exit_code << " out " << run.out << " err " << run.err);
    REQUIRE_FALSE(run.timed_out);
    Json out = Json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    if (run.exit_code == 0) {
      std::string address = out["ips"][0]["address"].get<std::string>();
      CHECK_MESSAGE(handed_out.insert(address).second, "handed out twice: " << address);
      std::string ip = address.substr(0, address.find('/'));
      CHECK(fs::read_file(fs::join(dir, ip)).value_or("") == container_id(i) + "\r\neth0");
    } else {
      ++exhausted;
      CHECK(out["code"] == kTryAgainLater);
      CHECK(out["msg"] == "failed to allocate for range 0: no IP addresses available in range set: 10.231.7.1-10.231.7.62");
    }
  }
  // Network (.0), gateway (.1) and broadcast (.63) are never handed out: 61 remain.
  std::set<std::string> expected;
  for (int host = 2; host <= 62; ++host) expected.insert("10.231.7." + std::to_string(host) + "/26");
  CHECK(handed_out == expected);
  CHECK(exhausted == kCalls - 61);
  CHECK(testing::lease_files(dir).size() == 61);

  auto dels = run_all(plugin, "DEL", config);
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(dels[i]);
    INFO("DEL " << i << " out " << dels[i]->out << " err " << dels[i]->err);
    CHECK(dels[i]->exit_code == 0);
  }
  auto left = fs::list_dir(dir);
  REQUIRE(left);
  for (const auto& name : *left) CHECK_MESSAGE((name == "lock" || name == "last_reserved_ip.0"), "left behind: " << name);
}

}  // namespace deckhand::cni::host_local
