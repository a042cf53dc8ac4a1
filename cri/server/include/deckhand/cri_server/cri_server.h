// deckhand-cri: serves CRI runtime.v1 (RuntimeService, ImageService) and
// deckhand's ImageImport service over gRPC on a unix socket.
#pragma once

#include <memory>

#include "deckhand/common/result.h"
#include "deckhand/cri_server/config.h"

namespace deckhand::cri {

class CriServer {
 public:
  // Takes the socket's lock (refusing when another instance holds it),
  // recovers state from disk and starts serving.
  static Result<std::unique_ptr<CriServer>> start(const CriConfig& config);
  virtual ~CriServer() = default;
  // Blocks until shutdown() is called (from another thread or a signal handler thread).
  virtual void wait() = 0;
  virtual void shutdown() = 0;
};

}  // namespace deckhand::cri
