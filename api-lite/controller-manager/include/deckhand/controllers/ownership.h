// Adoption and release, as controllers claim objects: an owner controls the
// objects whose controller reference names it (by uid) while its selector
// matches them; orphans it matches are adopted (a controller reference is
// added), and controlled objects it no longer matches are released.
#pragma once

#include <string>
#include <vector>

#include "deckhand/api/selector.h"
#include "deckhand/client/api_client.h"
#include "deckhand/common/json.h"

namespace deckhand::controllers {

struct OwnerKind {
  std::string api_version;  // "apps/v1"
  std::string kind;         // "ReplicaSet"
};

// What a claim would do with one candidate.
enum class ClaimAction { Ignore, Keep, Adopt, Release };
ClaimAction claim_action(const Json& owner, const api::LabelSelector& selector, const Json& candidate);

// Claims candidates (objects of `resource` in the owner's namespace) and
// returns those the owner controls afterwards. Adopt and release are merge
// patches of ownerReferences conditional on the candidate's resourceVersion.
Result<std::vector<Json>> claim_objects(client::ApiClient& api, const client::Resource& resource, const Json& owner,
                                        const OwnerKind& owner_kind, const api::LabelSelector& selector,
                                        const std::vector<Json>& candidates);

}  // namespace deckhand::controllers
