// Content-addressed blob store: <root>/blobs/sha256/<hex>. Every blob is
// verified against its digest before it becomes visible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
    // For a writer made by writer_unknown(): commits under the digest of what
    // was written, and returns it.
    Result<std::string> commit_computed();

   private:
    friend class ContentStore;
    struct State;
    explicit Writer(std::unique_ptr<State> s);
    std::unique_ptr<State> state_;
  };
  Result<Writer> writer(const std::string& expected_digest, int64_t expected_size = -1);

  // Streaming ingest when the digest is only known at the end (layers of a
  // docker-archive); finish with Writer::commit_computed().
  Result<Writer> writer_unknown();

  Status remove(const std::string& digest);
  // Digests of every stored blob.
  Result<std::vector<std::string>> list() const;

  // Blobs committed by this process stay "fresh" until an image references
  // them (settle) or grace runs out, so that garbage collection does not
  // take the blobs of a pull still in progress.
  bool is_fresh(const std::string& digest, std::chrono::seconds grace) const;
  void settle(const std::string& digest);

 private:
  Status publish(const std::string& tmp_path, const std::string& digest);
  std::string root_;
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> fresh_;
};

}  // namespace deckhand::images
