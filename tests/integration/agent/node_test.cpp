#include <doctest/doctest.h>
// filled in by its change
