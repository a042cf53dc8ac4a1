// Blobs live at <root>/blobs/sha256/<hex>. Writes go to <root>/ingest first
// and are renamed into place only once their digest checks out, so a blob
// path that exists always holds the right bytes.
#include "deckhand/images/content_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::images {

namespace {

constexpr std::string_view kPrefix = "sha256:";

Status check_digest(const std::string& digest) {
  if (!is_sha256_digest(digest))
    return fail(ErrorKind::InvalidArgument, "unsupported or malformed digest \"{}\" (want sha256:<64 hex>)", digest);
  return {};
}


}  // namespace

struct ContentStore::Writer::State {
  ContentStore* store = nullptr;
  std::string expected;  // empty: computed at commit
  int64_t expected_size = -1;
  std::string tmp_path;
  UniqueFd fd;
  Sha256 hash;
  uint64_t written = 0;
  bool done = false;
};

ContentStore::ContentStore(std::string root) : root_(std::move(root)) {}

std::string ContentStore::path(const std::string& digest) const {
  std::string_view hex = digest;
  if (hex.starts_with(kPrefix)) hex.remove_prefix(kPrefix.size());
  return fmt::format("{}/blobs/sha256/{}", root_, hex);
}

bool ContentStore::has(const std::string& digest) const {
  return is_sha256_digest(digest) && fs::exists(path(digest));
}

Result<uint64_t> ContentStore::size(const std::string& digest) const {
  DH_CHECK(check_digest(digest));
  struct stat st {};
  if (::stat(path(digest).c_str(), &st) != 0) return sys_fail("stat blob {}", digest);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> ContentStore::read(const std::string& digest) const {
  DH_CHECK(check_digest(digest));
  return with_context(fs::read_file(path(digest)), "read blob {}", digest);
}

Status ContentStore::put(const std::string& expected_digest, std::string_view data) {
  DH_CHECK(check_digest(expected_digest));
  std::string actual = sha256_digest(data);
  if (actual != expected_digest)
    return fail(ErrorKind::InvalidArgument, "blob digest mismatch: expected {}, got {}", expected_digest, actual);
  DH_TRY(w, writer(expected_digest, static_cast<int64_t>(data.size())));
  DH_CHECK(w.write(data));
  return w.commit();
}

Result<std::string> ContentStore::put(std::string_view data) {
  std::string digest = sha256_digest(data);
  DH_CHECK(put(digest, data));
  return digest;
}

Result<ContentStore::Writer> ContentStore::writer(const std::string& expected_digest, int64_t expected_size) {
  DH_CHECK(check_digest(expected_digest));
  DH_TRY(w, writer_unknown());
  w.state_->expected = expected_digest;
  w.state_->expected_size = expected_size;
  return w;
}

Result<ContentStore::Writer> ContentStore::writer_unknown() {
  std::string ingest = root_ + "/ingest";
  DH_CHECK(fs::make_dirs(ingest, 0700));
  auto s = std::make_unique<Writer::State>();
  s->store = this;
  s->tmp_path = fmt::format("{}/{}", ingest, random_id());
  DH_TRY(fd, fs::open_fd(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0644));
  s->fd = std::move(fd);
  return Writer(std::move(s));
}

Status ContentStore::publish(const std::string& tmp_path, const std::string& digest) {
  std::string dest = path(digest);
  DH_CHECK(fs::make_dirs(root_ + "/blobs/sha256"));
  if (::rename(tmp_path.c_str(), dest.c_str()) != 0) return sys_fail("rename {} to {}", tmp_path, dest);
  std::lock_guard lock(mu_);
  fresh_[digest] = std::chrono::steady_clock::now();
  return {};
}

Status ContentStore::remove(const std::string& digest) {
  DH_CHECK(check_digest(digest));
  std::string p = path(digest);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return sys_fail("remove blob {}", p);
  std::lock_guard lock(mu_);
  fresh_.erase(digest);
  return {};
}

Result<std::vector<std::string>> ContentStore::list() const {
  DH_TRY(names, fs::list_dir(root_ + "/blobs/sha256"));
  std::vector<std::string> out;
  for (auto& n : names) {
    std::string d = std::string(kPrefix) + n;
    if (is_sha256_digest(d)) out.push_back(std::move(d));
  }
  return out;
}

bool ContentStore::is_fresh(const std::string& digest, std::chrono::seconds grace) const {
  std::lock_guard lock(mu_);
  auto it = fresh_.find(digest);
  return it != fresh_.end() && std::chrono::steady_clock::now() - it->second < grace;
}

void ContentStore::settle(const std::string& digest) {
  std::lock_guard lock(mu_);
  fresh_.erase(digest);
}

ContentStore::Writer::Writer(std::unique_ptr<State> s) : state_(std::move(s)) {}
ContentStore::Writer::Writer(Writer&&) noexcept = default;

ContentStore::Writer::~Writer() {
  if (state_ && !state_->done) ::unlink(state_->tmp_path.c_str());
}

uint64_t ContentStore::Writer::written() const { return state_ ? state_->written : 0; }

Status ContentStore::Writer::write(std::string_view chunk) {
  if (!state_ || state_->done) return fail(ErrorKind::FailedPrecondition, "blob writer already finished");
  DH_CHECK(fs::write_all(state_->fd.get(), chunk, state_->tmp_path));
  state_->hash.update(chunk);
  state_->written += chunk.size();
  return {};
}

Result<std::string> ContentStore::Writer::commit_computed() {
  if (!state_ || state_->done) return fail(ErrorKind::FailedPrecondition, "blob writer already finished");
  State& s = *state_;
  if (s.expected_size >= 0 && s.written != static_cast<uint64_t>(s.expected_size))
    return fail(ErrorKind::InvalidArgument, "blob {}: expected {} bytes, got {}", s.expected, s.expected_size,
                s.written);
  std::string actual = std::string(kPrefix) + s.hash.hex();
  if (!s.expected.empty() && actual != s.expected)
    return fail(ErrorKind::InvalidArgument, "blob digest mismatch: expected {}, got {}", s.expected, actual);
  if (::fsync(s.fd.get()) != 0) return sys_fail("fsync {}", s.tmp_path);
  s.fd.reset();
  DH_CHECK(s.store->publish(s.tmp_path, actual));
  s.done = true;
  return actual;
}

Status ContentStore::Writer::commit() {
  DH_TRY(digest, commit_computed());
  (void)digest;
  return {};
}

}  // namespace deckhand::images
