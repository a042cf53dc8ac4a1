#include "api_world.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"

namespace deckhand::test {

std::string kubectl_path(const std::string& minor) {
  std::string p = minor == "20" ? "/usr/local/lib/deckhand/kubectl-1.20/usr/bin/kubectl"
                                : "/usr/lib/google-cloud-sdk/bin/kubectl.1." + minor;
  return ::access(p.c_str(), X_OK) == 0 ? p : "";
}

ApiWorld::ApiWorld(std::vector<std::string> extra_flags) : extra_flags_(std::move(extra_flags)), dir_("deckhand-api") {
  start();
}

ApiWorld::~ApiWorld() { stop(); }

std::string ApiWorld::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::string ApiWorld::log() const {
  auto s = fs::read_file(dir_.sub("apiserver.log"));
  return s ? *s : "";
}

void ApiWorld::start() {
  std::vector<std::string> args = {build_path("api-lite/apiserver/deckhand-apiserver"),
                                   "--config", dir_.sub("absent.toml"),
                                   "--data-dir", dir_.sub("data"),
                                   "--admin-kubeconfig", kubeconfig(),
                                   "--bind-address", "127.0.0.1",
                                   "--port", std::to_string(port_),  // 0 the first time; the same after a restart
                                   "--log-level", "info"};
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  REQUIRE(fs::write_file_atomic(dir_.sub("absent.toml"), ""));
  ::unlink(dir_.sub("stdout").c_str());
  pid_ = start_daemon(args, dir_.sub("stdout"), dir_.sub("apiserver.log"));
  REQUIRE(pid_ > 0);
  bool exited = false;
  const std::string marker = "serving on port ";
  bool up = eventually([&] {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) exited = true;
    auto out = fs::read_file(dir_.sub("stdout"));
    if (out && out->find(marker) != std::string::npos && out->back() == '\n') {
      port_ = static_cast<uint16_t>(std::stoi(out->substr(out->find(marker) + marker.size())));
      return true;
    }
    return exited;
  }, std::chrono::seconds(20));
  if (exited) pid_ = -1;
  if (!up || exited) FAIL("deckhand-apiserver did not come up:\n" << log());
}

void ApiWorld::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  bool exited = eventually([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, std::chrono::seconds(10));
  if (!exited) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

void ApiWorld::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RunOutput ApiWorld::kubectl(const std::vector<std::string>& args, const std::string& stdin_data,
                            const std::string& binary, const std::vector<std::string>& extra_env) {
  RunOptions o;
  o.argv = {binary.empty() ? kubectl_path("33") : binary, "--kubeconfig", kubeconfig()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  // kubectl keeps a discovery cache under $HOME/.kube: give it the world's.
  o.env = std::vector<std::string>{"HOME=" + dir_.path(), "PATH=/usr/bin:/bin", "KUBECTL_COMMAND_HEADERS=false"};
  o.env->insert(o.env->end(), extra_env.begin(), extra_env.end());
  o.stdin_data = stdin_data;
  o.timeout = std::chrono::seconds(60);
  auto r = run_process(o);
  REQUIRE_MESSAGE(r, "kubectl: " << (r ? "" : r.error().message));
  return *r;
}

std::string ApiWorld::issue_kubeconfig(const std::string& user, const std::vector<std::string>& groups) {
  RunOptions o;
  o.argv = {build_path("api-lite/apiserver/deckhand-apiserver"), "issue-cert", "--config", dir_.sub("absent.toml"),
            "--pki-dir", pki_dir(), "--user", user, "--out", dir_.sub("creds"), "--server", url()};
  for (const auto& g : groups) o.argv.insert(o.argv.end(), {"--group", g});
  auto issued = run_process(o);
  REQUIRE_MESSAGE(issued, (issued ? "" : issued.error().message));
  REQUIRE_MESSAGE(issued->exit_code == 0, issued->err);
  std::string file = user;
  for (char& c : file)
    if (c == ':' || c == '/') c = '-';
  return dir_.sub("creds/" + file + ".kubeconfig");
}

std::string ApiWorld::file(const std::string& name, const std::string& text) {
  std::string p = dir_.sub(name);
  REQUIRE(fs::write_file_atomic(p, text));
  return p;
}

}  // namespace deckhand::test
