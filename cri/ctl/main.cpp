// deckhandctl: a crictl-like CLI over the CRI client; the logic is in cli.cpp.
#include <iostream>

#include "deckhand/ctl/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(true);
  return deckhand::ctl::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
