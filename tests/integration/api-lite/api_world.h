// A private deckhand-apiserver for kubectl tests: a temporary data dir, a
// free port on 127.0.0.1, its own PKI and admin kubeconfig; stopped and
// removed afterwards. kubectl() runs the real kubectl against it.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "deckhand/common/process.h"
#include "test_env.h"

namespace deckhand::test {

// The real kubectl clients on our machines: 1.33 and 1.27 from the Google
// Cloud SDK package, 1.20 from Debian's kubernetes-client unpacked by
// packaging/install-deps.sh. Empty when absent.
std::string kubectl_path(const std::string& minor);

class ApiWorld {
 public:
  explicit ApiWorld(std::vector<std::string> extra_flags = {});
  ~ApiWorld();
  ApiWorld(const ApiWorld&) = delete;
  ApiWorld& operator=(const ApiWorld&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;
  std::string kubeconfig() const { return dir_.sub("admin.kubeconfig"); }
  std::string dir() const { return dir_.path(); }
  std::string pki_dir() const { return dir_.sub("data/pki"); }
  std::string log() const;

  // kubectl 1.33 (or the given binary) with the admin kubeconfig.
  RunOutput kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "",
                    const std::string& binary = "", const std::vector<std::string>& extra_env = {});
  // A client certificate and kubeconfig from the world's CA, made with
  // `deckhand-apiserver issue-cert`; returns the kubeconfig's path.
  std::string issue_kubeconfig(const std::string& user, const std::vector<std::string>& groups);
  // Writes text to a file in the world and returns its path.
  std::string file(const std::string& name, const std::string& text);

  void stop();
  void kill9();
  void start();

 private:
  std::vector<std::string> extra_flags_;
  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace deckhand::test
