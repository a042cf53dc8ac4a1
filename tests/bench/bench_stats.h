// Order statistics of a benchmark's samples.
#pragma once

#include <vector>

namespace deckhand::bench {

// The q-quantile (0..1) with linear interpolation between closest ranks;
// 0 for an empty sample.
double quantile(std::vector<double> v, double q);

}  // namespace deckhand::bench
