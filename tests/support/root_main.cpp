// main of integration tests: they need root (namespaces, mounts) and skip without it.
#include <doctest/doctest.h>

#include "test_env.h"

int main(int argc, char** argv) { return deckhand::test::run_doctest(argc, argv, true); }
