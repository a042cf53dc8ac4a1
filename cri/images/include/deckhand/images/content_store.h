// Content-addressed blob store: <root>/blobs/sha256/<hex>. Every blob is
// verified against its digest before it becomes visible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::images {

class ContentStore {
 public:
  explicit ContentStore(std::string root);

  std::string path(const std::string& digest) const;
  bool has(const std::string& digest) const;
  Result<uint64_t> size(const std::string& digest) const;
  Result<std::string> read(const std::string& digest) const;  // whole blob (manifests, configs)

  // Stores data; fails with InvalidArgument when it does not match expected_digest.
  Status put(const std::string& expected_digest, std::string_view data);
  // Stores data and returns its digest.
  Result<std::string> put(std::string_view data);

  // Streaming ingest for large blobs. commit() verifies digest (and size when
  // given, >= 0) and makes the blob visible; a writer dropped without commit
  // leaves nothing behind.
  class Writer {
   public:
    ~Writer();
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) = delete;
    Status write(std::string_view chunk);
    Status commit();
    uint64_t written() const;

   private:
    friend class ContentStore;
    struct State;
    explicit Writer(std::unique_ptr<State> s);
    std::unique_ptr<State> state_;
  };
  Result<Writer> writer(const std::string& expected_digest, int64_t expected_size = -1);

  Status remove(const std::string& digest);

 private:
  std::string root_;
};

}  // namespace deckhand::images
