// sha256 digests and random ids.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand {

// "sha256:<64 hex>" of data.
std::string sha256_digest(std::string_view data);

// Incremental sha256 for streams (layer downloads, large files).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();     // finishes the hash: 64 hex characters
 private:
  struct State;
  std::unique_ptr<State> state_;
};

Result<std::string> sha256_file(const std::string& path);  // "sha256:<hex>"

// 64 random hex characters, as container and sandbox ids are.
std::string random_id();

// True for "sha256:" followed by 64 lowercase hex characters.
bool is_sha256_digest(std::string_view d);

}  // namespace deckhand
