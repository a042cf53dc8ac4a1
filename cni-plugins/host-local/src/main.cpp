// deckhand-host-local: the CNI IPAM plugin handing out addresses from
// configured ranges, compatible with the reference host-local's files.
#include "host_local.h"

int main() { return deckhand::cni::plugin_main(deckhand::cni::host_local::handlers()); }
