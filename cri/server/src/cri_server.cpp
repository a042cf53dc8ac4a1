#include "deckhand/cri_server/cri_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "grpc_services.h"

namespace deckhand::cri {

namespace {

// Only one deckhand-cri may serve a socket: the holder keeps an flock on
// "<socket>.lock" for its whole life, so a stale socket file (left by kill -9)
// can be told from a live one.
Result<UniqueFd> lock_socket(const std::string& socket) {
  std::string lock = socket + ".lock";
  DH_TRY(fd, fs::open_fd(lock, O_RDWR | O_CREAT, 0600));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return fail(ErrorKind::AlreadyExists, "another deckhand-cri is serving {} (it holds {})", socket, lock);
    return sys_fail("lock {}", lock);
  }
  if (::unlink(socket.c_str()) != 0 && errno != ENOENT) return sys_fail("remove stale socket {}", socket);
  return fd;
}

class CriServerImpl final : public CriServer {
 public:
  CriServerImpl(UniqueFd lock, std::unique_ptr<CriRuntime> rt)
      : lock_(std::move(lock)), rt_(std::move(rt)), runtime_svc_(*rt_), image_svc_(*rt_), import_svc_(*rt_) {}

  Status listen(const std::string& socket) {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    b.RegisterService(&runtime_svc_);
    b.RegisterService(&image_svc_);
    b.RegisterService(&import_svc_);
    b.SetMaxReceiveMessageSize(16 << 20);
    b.SetMaxSendMessageSize(16 << 20);
    mode_t old = ::umask(0117);  // the socket is created 0660
    server_ = b.BuildAndStart();
    ::umask(old);
    if (!server_) return fail(ErrorKind::Unavailable, "cannot listen on {}", socket);
    if (::chmod(socket.c_str(), 0660) != 0) return sys_fail("chmod {}", socket);
    return {};
  }

  void wait() override { server_->Wait(); }
  void shutdown() override { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }

 private:
  UniqueFd lock_;
  std::unique_ptr<CriRuntime> rt_;
  RuntimeServiceImpl runtime_svc_;
  ImageServiceImpl image_svc_;
  ImageImportImpl import_svc_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

Result<std::unique_ptr<CriServer>> CriServer::start(const CriConfig& config) {
  if (!log::init(config.log_level)) return fail(ErrorKind::InvalidArgument, "unknown log level \"{}\"", config.log_level);
  auto slash = config.socket.rfind('/');
  if (slash != std::string::npos && slash > 0) DH_CHECK(fs::make_dirs(config.socket.substr(0, slash), 0711));
  DH_TRY(lock, lock_socket(config.socket));
  DH_TRY(rt, CriRuntime::create(config));
  auto server = std::make_unique<CriServerImpl>(std::move(lock), std::move(rt));
  DH_CHECK(server->listen(config.socket));
  log::get("cri")->info("serving CRI on {}", config.socket);
  return std::unique_ptr<CriServer>(std::move(server));
}

}  // namespace deckhand::cri
