// Applies one layer tar to a directory for use as an overlay lower dir.
#pragma once

#include <string>

#include "deckhand/common/result.h"

namespace deckhand::images {

enum class LayerCompression { None, Gzip, Zstd };

// Detects compression from the first bytes of a blob (not from media types,
// which registries and archives get wrong).
Result<LayerCompression> detect_compression(const std::string& blob_path);

// Unpacks the layer at blob_path (gzip, zstd or plain tar) into dest, an
// existing empty directory. Every path is resolved inside dest, whatever the
// tar says: ".." and absolute names are clamped to dest, symlinks are created
// as they are but never followed out of dest, hardlinks must point inside,
// device nodes are skipped. Whiteouts become overlay whiteouts (0:0 char
// devices) and opaque markers the trusted.overlay.opaque xattr. Returns the
// sha256 digest of the uncompressed tar (the layer's diff id).
Result<std::string> unpack_layer(const std::string& blob_path, const std::string& dest);

}  // namespace deckhand::images
