#include <doctest/doctest.h>

#include "test_env.h"

int main(int argc, char** argv) { return deckhand::test::run_doctest(argc, argv, false); }
