// Reference grammar as docker/distribution defines it, with Docker Hub's
// normalisation ("busybox" -> "docker.io/library/busybox:latest").
#include "deckhand/images/image_ref.h"

#include <cctype>

#include "deckhand/common/digest.h"

namespace deckhand::images {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
constexpr size_t kMaxNameLength = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-".
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (is_lower_alnum(ch)) continue;
    if (ch == '.' || ch == '_') {
      // a separator is ".", "_" or "__": no other runs
      if (ch == '_' && i + 1 < c.size() && c[i + 1] == '_') ++i;
      if (!is_lower_alnum(c[i + 1])) return false;
      continue;
    }
    if (ch == '-') {
      while (c[i + 1] == '-') ++i;  // runs of '-' are one separator; the last char is alnum
      if (!is_lower_alnum(c[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool valid_host_label(std::string_view l) {
  if (l.empty() || !std::isalnum(static_cast<unsigned char>(l.front())) ||
      !std::isalnum(static_cast<unsigned char>(l.back())))
    return false;
  for (char c : l)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

// host[:port], host being dotted labels or a bracketed IPv6 address.
bool valid_domain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    host = {};
    d = d.substr(close + 1);
    if (!d.empty() && d.front() != ':') return false;
  } else {
    auto colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view{} : d.substr(colon);
    size_t start = 0;
    while (true) {
      auto dot = host.find('.', start);
      if (!valid_host_label(host.substr(start, dot - start))) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  if (d.empty()) return true;
  auto port = d.substr(1);  // after ':'
  if (port.empty() || port.size() > 5) return false;
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

// The first component names a registry when it looks like a host: it has a
// dot or a port, or is "localhost", or has uppercase letters (which a
// repository path never has).
bool looks_like_domain(std::string_view first) {
  if (first == "localhost") return true;
  if (first.find_first_of(".:[") != std::string_view::npos) return true;
  for (char c : first)
    if (std::isupper(static_cast<unsigned char>(c))) return true;
  return false;
}

tl::unexpected<Error> bad_ref(std::string_view ref, std::string_view why) {
  return fail(ErrorKind::InvalidArgument, "invalid image reference \"{}\": {}", ref, why);
}

}  // namespace

std::string ImageRef::name() const { return domain + "/" + path; }

std::string ImageRef::string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string ImageRef::tagged() const { return tag.empty() ? std::string() : name() + ":" + tag; }

Result<ImageRef> parse_ref(std::string_view ref) {
  if (ref.empty()) return bad_ref(ref, "empty");
  ImageRef out;
  std::string_view rest = ref;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!is_sha256_digest(out.digest)) return bad_ref(ref, "digest must be sha256: and 64 lowercase hex characters");
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_tag(out.tag)) return bad_ref(ref, "invalid tag");
  }
  auto first_slash = rest.find('/');
  std::string_view path = rest;
  if (first_slash != std::string_view::npos && looks_like_domain(rest.substr(0, first_slash))) {
    out.domain = std::string(rest.substr(0, first_slash));
    path = rest.substr(first_slash + 1);
    if (!valid_domain(out.domain)) return bad_ref(ref, "invalid registry host");
  } else {
    out.domain = std::string(kDockerHub);
  }
  if (out.domain == "index.docker.io") out.domain = std::string(kDockerHub);
  if (path.empty()) return bad_ref(ref, "empty repository name");
  size_t start = 0;
  while (true) {
    auto next = path.find('/', start);
    auto comp = path.substr(start, next - start);
    if (!valid_path_component(comp)) {
      for (char c : comp)
        if (std::isupper(static_cast<unsigned char>(c))) return bad_ref(ref, "repository name must be lowercase");
      return bad_ref(ref, "invalid repository name");
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  out.path = std::string(path);
  if (out.domain == kDockerHub && out.path.find('/') == std::string::npos) out.path = "library/" + out.path;
  if (out.name().size() > kMaxNameLength) return bad_ref(ref, "repository name longer than 255 characters");
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

}  // namespace deckhand::images
