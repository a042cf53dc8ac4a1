#include "deckhand/common/json.h"

#include "deckhand/common/fs.h"

namespace deckhand {

Result<Json> parse_json(std::string_view text, std::string_view what) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions only to learn where it broke.
    try {
      Json again = Json::parse(text);
      (void)again;
    } catch (const Json::parse_error& e) {
      return fail(ErrorKind::InvalidArgument, "decode {}: {}", what, e.what());
    }
    return fail(ErrorKind::InvalidArgument, "decode {}: invalid JSON", what);
  }
  return j;
}

Result<Json> read_json_file(const std::string& path) {
  DH_TRY(text, fs::read_file(path));
  return parse_json(text, path);
}

}  // namespace deckhand
