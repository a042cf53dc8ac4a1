// deckhand-cri: parse flags, start serving, stop on SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "deckhand/common/process.h"
#include "deckhand/cri_server/cri_server.h"

int main(int argc, char** argv) {
  auto config = deckhand::cri::load_config(argc, argv);
  if (!config) {
    std::fprintf(stderr, "deckhand-cri: %s\n", config.error().message.c_str());
    return 1;
  }
  if (config->show_help) {
    std::fputs(deckhand::cri::usage(), stdout);
    return 0;
  }
  // Before gRPC starts its threads, so that only our waiter sees the signals.
  sigset_t sigs = deckhand::block_termination_signals();

  auto server = deckhand::cri::CriServer::start(*config);
  if (!server) {
    std::fprintf(stderr, "deckhand-cri: %s\n", server.error().message.c_str());
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    (*server)->shutdown();
  });
  (*server)->wait();
  waiter.join();
  return 0;
}
