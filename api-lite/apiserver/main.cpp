// deckhand-apiserver: parse flags, serve until SIGTERM/SIGINT; or issue-cert.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "deckhand/apiserver/config.h"
#include "deckhand/common/log.h"
#include "deckhand/common/process.h"

int main(int argc, char** argv) {
  using namespace deckhand::apiserver;
  auto config = load_config(argc, argv);
  if (!config) {
    std::fprintf(stderr, "deckhand-apiserver: %s\n", config.error().message.c_str());
    return 1;
  }
  if (config->show_help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (!deckhand::log::init(config->log_level)) {
    std::fprintf(stderr, "deckhand-apiserver: unknown log level %s\n", config->log_level.c_str());
    return 1;
  }
  if (config->issue_cert) {
    auto st = issue_user_credentials(config->options, config->cert_user, config->cert_groups, config->cert_out_dir,
                                     config->cert_server_url);
    if (!st) {
      std::fprintf(stderr, "deckhand-apiserver issue-cert: %s\n", st.error().message.c_str());
      return 1;
    }
    return 0;
  }
  sigset_t sigs = deckhand::block_termination_signals();
  auto server = ApiServer::start(config->options);
  if (!server) {
    std::fprintf(stderr, "deckhand-apiserver: %s\n", server.error().message.c_str());
    return 1;
  }
  // Tests and scripts wait for this line to learn the port.
  std::printf("deckhand-apiserver: serving on port %u\n", static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  (*server)->stop();
  return 0;
}
