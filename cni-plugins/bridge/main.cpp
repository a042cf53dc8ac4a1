// deckhand-bridge: CNI main plugin (see deckhand/bridge/bridge.h).
#include "deckhand/bridge/bridge.h"

int main() { return deckhand::cni::plugin_main(deckhand::bridge::handlers()); }
