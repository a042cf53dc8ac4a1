// deckhand-monitor: one per container, started by deckhand-cri (start_monitor).
#include <cstdio>

#include "container_monitor.h"
#include "options.h"

int main(int argc, char** argv) {
  auto opts = deckhand::monitor::parse_options(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "deckhand-monitor: %s\n", opts.error().message.c_str());
    return 2;
  }
  deckhand::monitor::ContainerMonitor monitor(std::move(*opts));
  return monitor.run();
}
