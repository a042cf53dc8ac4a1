// Import of image archives: OCI image layouts (directory or tar) and
// docker-archive tars ("docker save").
#pragma once

#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/images/image_store.h"

namespace deckhand::images {

// Stores the archive's blobs in store.content() (each verified against its
// digest) and registers every image it names through store.register_image.
Result<std::vector<Image>> import_image_archive(ImageStore& store, const std::string& path);

// The name an OCI index entry gives its image: io.containerd.image.name, or
// org.opencontainers.image.ref.name when that is a full reference. Empty
// when there is none or it is only a tag.
std::string oci_image_name(const std::map<std::string, std::string>& annotations);

}  // namespace deckhand::images
