#include "deckhand/agent/node_reporter.h"

namespace deckhand::agent {

// Placeholder until node registration is written.
Result<std::unique_ptr<NodeReporter>> NodeReporter::start(const AgentConfig&, std::shared_ptr<client::ApiClient>,
                                                          std::shared_ptr<cri::CriClient>) {
  return fail(ErrorKind::Unimplemented, "node registration is not written yet");
}

}  // namespace deckhand::agent
