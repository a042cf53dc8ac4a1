// ImageService: the node's images, by CRI's rules (ImageStatus of a missing
// image is an empty answer, RemoveImage of one is success).
#include <charconv>
#include <set>

#include "cri_runtime.h"
#include "deckhand/common/log.h"

namespace deckhand::cri {

namespace {

v1::Image to_cri(const images::Image& img) {
  v1::Image out;
  out.set_id(img.id);
  for (auto& t : img.repo_tags) out.add_repo_tags(t);
  for (auto& d : img.repo_digests) out.add_repo_digests(d);
  out.set_size(img.size);
  const std::string& user = img.config.user;
  std::string name = user.substr(0, user.find(':'));
  int64_t uid = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), uid);
  if (!name.empty() && ec == std::errc() && end == name.data() + name.size())
    out.mutable_uid()->set_value(uid);
  else if (!name.empty())
    out.set_username(name);  // a name, or a number too long to be a uid
  out.mutable_spec()->set_image(img.id);
  return out;
}

images::PullAuth to_pull_auth(const v1::AuthConfig& a) {
  images::PullAuth p;
  p.username = a.username();
  p.password = a.password();
  p.auth = a.auth();
  p.identity_token = a.identity_token();
  p.registry_token = a.registry_token();
  return p;
}

}  // namespace

std::vector<v1::Image> CriRuntime::list_images(const v1::ImageFilter& f) {
  std::vector<v1::Image> out;
  if (!f.image().image().empty()) {
    if (auto img = images_->get(f.image().image())) out.push_back(to_cri(*img));
    return out;
  }
  for (auto& img : images_->list()) out.push_back(to_cri(img));
  return out;
}

Result<v1::ImageStatusResponse> CriRuntime::image_status(const v1::ImageSpec& spec, bool verbose) {
  if (spec.image().empty()) return fail(ErrorKind::InvalidArgument, "image.image is empty");
  v1::ImageStatusResponse resp;
  auto img = images_->get(spec.image());
  if (!img) {
    if (img.error().kind == ErrorKind::NotFound) return resp;
    return tl::unexpected(img.error());
  }
  *resp.mutable_image() = to_cri(*img);
  if (verbose) {
    Json info{{"id", img->id},
              {"manifestDigest", img->manifest_digest},
              {"env", img->config.env},
              {"entrypoint", img->config.entrypoint},
              {"cmd", img->config.cmd},
              {"workingDir", img->config.working_dir},
              {"user", img->config.user},
              {"stopSignal", img->config.stop_signal},
              {"labels", img->config.labels},
              {"layers", img->layer_dirs}};
    (*resp.mutable_info())["info"] = info.dump();
  }
  return resp;
}

Result<std::string> CriRuntime::pull_image(const v1::PullImageRequest& req) {
  if (req.image().image().empty()) return fail(ErrorKind::InvalidArgument, "image.image is empty");
  DH_TRY(img, puller_->pull(req.image().image(), to_pull_auth(req.auth())));
  log::get("cri")->info("image={} pulled as {}", req.image().image(), img.id);
  return img.id;
}

Status CriRuntime::remove_image(const v1::ImageSpec& spec) {
  if (spec.image().empty()) return fail(ErrorKind::InvalidArgument, "image.image is empty");
  auto st = images_->remove(spec.image());
  if (!st && st.error().kind != ErrorKind::NotFound) return st;
  std::set<std::string> in_use;
  for (auto& c : containers_.all()) in_use.insert(c->snapshot().image_id);
  return images_->garbage_collect(in_use);
}

Result<v1::ImageFsInfoResponse> CriRuntime::image_fs_info() {
  DH_TRY(usage, images_->fs_usage());
  v1::ImageFsInfoResponse resp;
  auto* f = resp.add_image_filesystems();
  f->set_timestamp(now_ns());
  f->mutable_fs_id()->set_mountpoint(usage.mountpoint);
  f->mutable_used_bytes()->set_value(usage.used_bytes);
  f->mutable_inodes_used()->set_value(usage.inodes_used);
  return resp;
}

Result<std::vector<images::Image>> CriRuntime::import_image(const std::string& path) {
  if (path.empty()) return fail(ErrorKind::InvalidArgument, "path is empty");
  return images_->import_archive(path);
}

}  // namespace deckhand::cri
