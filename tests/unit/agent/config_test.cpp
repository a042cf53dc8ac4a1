// deckhand-agent's settings: every flag lands in its field, the file's
// forms (arrays, the node_labels table) and the checks across settings.
#include "deckhand/agent/config.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::agent;

TEST_CASE("agent config: flags over the file") {
  test::TempDir dir;
  std::string file = dir.sub("agent.toml");
  REQUIRE(fs::write_file_atomic(file, R"(
node_name = "n1"
cluster_dns = ["10.0.0.10"]
register_with_taint = ["a=b:NoSchedule"]
max_pods = 50
port = -1
[node_labels]
zone = "z1"
)"));
  test::Argv args({"deckhand-agent", "--config", file, "--kubeconfig", "", "--node-label", "disk=ssd",
                   "--cluster-dns", "10.0.0.11", "--relist-interval-ms", "250", "--image-gc-high-threshold", "100",
                   "--image-gc-low-threshold=90", "--minimum-image-ttl-ms", "0", "--pod-workers", "4"});
  auto c = load_config(args.argc(), args.argv());
  REQUIRE_MESSAGE(c, c.error().message);
  CHECK(c->node_name == "n1");
  CHECK(c->kubeconfig.empty());  // standalone
  CHECK(c->node_labels == std::map<std::string, std::string>{{"zone", "z1"}, {"disk", "ssd"}});
  CHECK(c->cluster_dns == std::vector<std::string>{"10.0.0.11"});  // the flag replaces the file's list
  CHECK(c->node_taints == std::vector<std::string>{"a=b:NoSchedule"});
  CHECK(c->max_pods == 50);
  CHECK(c->server_port == -1);
  CHECK(c->relist_interval == std::chrono::milliseconds(250));
  CHECK(c->image_gc_high_percent == 100);
  CHECK(c->image_gc_low_percent == 90);
  CHECK(c->minimum_image_ttl == std::chrono::milliseconds(0));
  CHECK(c->pod_workers == 4);
  CHECK(c->cri_endpoint == "unix:///run/deckhand/cri.sock");  // default
}

TEST_CASE("agent config: errors") {
  test::TempDir dir;
  std::string empty = dir.sub("empty.toml");
  REQUIRE(fs::write_file_atomic(empty, ""));
  auto error_of = [&empty](std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"deckhand-agent", "--config", empty, "--node-name", "n1"});
    test::Argv argv(std::move(flags));
    auto c = load_config(argv.argc(), argv.argv());
    return c ? std::string() : c.error().message;
  };
  CHECK(error_of({"--node-label", "novalue"}).find("--node-label: want KEY=VALUE") != std::string::npos);
  CHECK(error_of({"--port", "70000"}).find("--port") != std::string::npos);
  CHECK(error_of({"--image-gc-high-threshold", "101"}).find("from 0 to 100") != std::string::npos);
  CHECK(error_of({"--image-gc-high-threshold", "80", "--image-gc-low-threshold", "80"})
            .find("must be below image-gc-high-threshold") != std::string::npos);
  CHECK(error_of({"--lease-interval-ms", "0"}).find("--lease-interval-ms") != std::string::npos);
  CHECK(error_of({"--max-pods"}) == "flag --max-pods needs a value");
  CHECK(error_of({"--no-such-flag", "1"}) == "unknown flag: --no-such-flag");
}
