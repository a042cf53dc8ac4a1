// deckhand-agent: parse flags, connect to the apiserver and the CRI runtime,
// register the node, run its pods until SIGTERM/SIGINT.
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <optional>

#include "deckhand/agent/config.h"
#include "deckhand/agent/node_reporter.h"
#include "deckhand/agent/pod_manager.h"
#include "deckhand/agent/node_server.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/common/process.h"

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "deckhand-agent: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace deckhand;
  auto config = agent::load_config(argc, argv);
  if (!config) return die(config.error().message);
  if (config->show_help) {
    std::fputs(agent::usage(), stdout);
    return 0;
  }
  if (!log::init(config->log_level)) return die("unknown log level " + config->log_level);
  // glibc gives each thread that allocates an arena of its own; a few shared
  // ones keep the agent's memory small with many pod workers.
  mallopt(M_ARENA_MAX, 2);
  sigset_t sigs = block_termination_signals();
  // No kubeconfig: standalone, static pods only (as kubelet without one).
  std::optional<client::ClientConfig> kubeconfig;
  std::shared_ptr<client::ApiClient> api;
  if (!config->kubeconfig.empty()) {
    auto loaded = client::load_kubeconfig(config->kubeconfig);
    if (!loaded) return die(loaded.error().message);
    auto made = client::ApiClient::create(*loaded);
    if (!made) return die(made.error().message);
    kubeconfig = std::move(*loaded);
    api = std::move(*made);
  } else if (config->pod_manifest_path.empty()) {
    return die("no --kubeconfig and no --pod-manifest-path: nothing to run");
  }
  auto cri = cri::CriClient::connect(config->cri_endpoint);
  if (!cri) return die("CRI runtime at " + config->cri_endpoint + ": " + cri.error().message);
  std::shared_ptr<cri::CriClient> runtime = std::move(*cri);
  // The server starts first, so that the Node is registered with its real port.
  std::atomic<agent::PodManager*> pod_source{nullptr};
  std::unique_ptr<agent::NodeServer> server;
  if (config->server_port >= 0) {
    agent::NodeServerOptions o;
    o.address = config->server_address;
    o.port = static_cast<uint16_t>(config->server_port);
    o.cert_file = config->tls_cert_file;
    o.key_file = config->tls_key_file;
    o.client_ca_file = config->client_ca_file;
    if (o.client_ca_file.empty()) {
      // One cluster CA signs the apiserver's serving and client certificates.
      if (!kubeconfig || kubeconfig->ca_pem.empty())
        return die("node server: no --client-ca-file and no CA in a kubeconfig (or --port -1)");
      o.client_ca_file = config->root_dir + "/pki/cluster-ca.crt";
      auto written = fs::make_dirs(config->root_dir + "/pki", 0700).and_then(
          [&] { return fs::write_file_atomic(o.client_ca_file, kubeconfig->ca_pem, 0644); });
      if (!written) return die("node server: " + written.error().message);
    }
    o.state_dir = config->root_dir + "/pki";
    o.node_name = config->node_name;
    agent::NodePodSource source{[&pod_source] {
      agent::PodManager* m = pod_source.load();
      return m ? m->pods() : std::vector<Json>{};
    }};
    auto started = agent::NodeServer::start(o, runtime, std::move(source));
    if (!started) return die("node server: " + started.error().message);
    server = std::move(*started);
    config->server_port = server->port();
  }
  std::unique_ptr<agent::NodeReporter> node;
  if (api) {
    auto started = agent::NodeReporter::start(*config, api, runtime);
    if (!started) return die(started.error().message);
    node = std::move(*started);
  }
  auto pods = agent::PodManager::start(*config, api, runtime, node ? node->host_ip() : "");
  if (!pods) return die(pods.error().message);
  pod_source = pods->get();
  std::printf("deckhand-agent: node %s ready (node server port %lld)\n", config->node_name.c_str(),
              static_cast<long long>(config->server_port));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  server.reset();  // before the pods it reads
  pod_source = nullptr;
  return 0;
}
