// Image references, normalised as the ecosystem does:
// "busybox" -> "docker.io/library/busybox:latest".
#pragma once

#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::images {

struct ImageRef {
  std::string domain;  // "docker.io", "127.0.0.1:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest" unless a digest alone was given
  std::string digest;  // "sha256:..." or empty

  std::string name() const;     // domain/path
  std::string string() const;   // name[:tag][@digest]
  std::string tagged() const;   // name:tag (empty when no tag)
};

// Fails with InvalidArgument naming the reference for anything malformed.
Result<ImageRef> parse_ref(std::string_view ref);

}  // namespace deckhand::images
