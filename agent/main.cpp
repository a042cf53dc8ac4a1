// deckhand-agent: parse flags, connect to the apiserver and the CRI runtime,
// register the node, run its pods until SIGTERM/SIGINT.
#include <signal.h>

#include <cstdio>

#include "deckhand/agent/config.h"
#include "deckhand/agent/node_reporter.h"
#include "deckhand/agent/pod_manager.h"
#include "deckhand/client/kubeconfig.h"
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
  sigset_t sigs = block_termination_signals();
  auto kubeconfig = client::load_kubeconfig(config->kubeconfig);
  if (!kubeconfig) return die(kubeconfig.error().message);
  auto api = client::ApiClient::create(*kubeconfig);
  if (!api) return die(api.error().message);
  auto cri = cri::CriClient::connect(config->cri_endpoint);
  if (!cri) return die("CRI runtime at " + config->cri_endpoint + ": " + cri.error().message);
  std::shared_ptr<cri::CriClient> runtime = std::move(*cri);
  auto node = agent::NodeReporter::start(*config, *api, runtime);
  if (!node) return die(node.error().message);
  auto pods = agent::PodManager::start(*config, *api, runtime, (*node)->host_ip());
  if (!pods) return die(pods.error().message);
  std::printf("deckhand-agent: node %s ready\n", config->node_name.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  return 0;
}
