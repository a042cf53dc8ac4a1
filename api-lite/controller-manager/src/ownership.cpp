#include "deckhand/controllers/ownership.h"

#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

ClaimAction claim_action(const Json& owner, const api::LabelSelector& selector, const Json& candidate) {
  bool matches = selector.matches_object(candidate);
  auto ref = controller_ref(candidate);
  if (ref) {
    if (ref->value("uid", "") != uid_of(owner)) return ClaimAction::Ignore;
    if (matches) return ClaimAction::Keep;
    // An owner on its way out keeps what it has, so that the GC finds it.
    return is_terminating(owner) ? ClaimAction::Ignore : ClaimAction::Release;
  }
  if (!matches || is_terminating(owner) || is_terminating(candidate)) return ClaimAction::Ignore;
  return ClaimAction::Adopt;
}

namespace {

Status patch_owner_refs(client::ApiClient& api, const client::Resource& resource, const Json& obj, Json refs) {
  Json patch = {{"metadata", {{"ownerReferences", std::move(refs)}, {"resourceVersion", meta_string(obj, "resourceVersion")}}}};
  auto r = api.patch(resource, namespace_of(obj), name_of(obj), client::PatchType::Merge, patch);
  if (!r && r.error().kind != ErrorKind::NotFound) return tl::unexpected(r.error());
  return {};
}

}  // namespace

Result<std::vector<Json>> claim_objects(client::ApiClient& api, const client::Resource& resource, const Json& owner,
                                        const OwnerKind& owner_kind, const api::LabelSelector& selector,
                                        const std::vector<Json>& candidates) {
  std::vector<Json> owned;
  for (const auto& obj : candidates) {
    switch (claim_action(owner, selector, obj)) {
      case ClaimAction::Ignore:
        break;
      case ClaimAction::Keep:
        owned.push_back(obj);
        break;
      case ClaimAction::Adopt: {
        Json refs = owner_references(obj);
        refs.push_back(make_controller_ref(owner, owner_kind.api_version, owner_kind.kind));
        DH_CHECK(with_context(patch_owner_refs(api, resource, obj, refs), "adopt {} {}", resource.kind, name_of(obj)));
        Json adopted = obj;
        adopted["metadata"]["ownerReferences"] = refs;
        owned.push_back(std::move(adopted));
        break;
      }
      case ClaimAction::Release: {
        Json refs = Json::array();
        for (const auto& ref : owner_references(obj))
          if (ref.value("uid", "") != uid_of(owner)) refs.push_back(ref);
        DH_CHECK(with_context(patch_owner_refs(api, resource, obj, refs), "release {} {}", resource.kind, name_of(obj)));
        break;
      }
    }
  }
  return owned;
}

}  // namespace deckhand::controllers
