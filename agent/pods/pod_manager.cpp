#include "deckhand/agent/pod_manager.h"

namespace deckhand::agent {

// Placeholder until the pod workers are written.
Result<std::unique_ptr<PodManager>> PodManager::start(const AgentConfig&, std::shared_ptr<client::ApiClient>,
                                                      std::shared_ptr<cri::CriClient>, std::string) {
  return fail(ErrorKind::Unimplemented, "pod workers are not written yet");
}

}  // namespace deckhand::agent
