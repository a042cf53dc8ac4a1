#include "api_bench_servers.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"

namespace deckhand::bench {

namespace {

// The port number of a new loopback socket bound to port 0. The caller
// keeps the socket open until every port it needs is chosen (so that two
// picks differ) and closes it before the server binds.
Result<std::pair<UniqueFd, int>> reserve_loopback_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return sys_fail("bind 127.0.0.1:0");
  socklen_t len = sizeof a;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) return sys_fail("getsockname");
  int port = ntohs(a.sin_port);
  return std::make_pair(std::move(s), port);
}

// The port from the apiserver's "deckhand-apiserver: serving on port N" line; 0 until then.
int announced_port(const std::string& log_path) {
  auto log = fs::read_file(log_path);
  if (!log) return 0;
  static constexpr std::string_view kLine = "deckhand-apiserver: serving on port ";
  auto at = log->find(kLine);
  if (at == std::string::npos) return 0;
  return std::atoi(log->c_str() + at + kLine.size());
}

}  // namespace

Result<ServerUnderTest> start_apiserver(const std::string& exe, const std::string& data_dir,
                                        const std::string& log_path) {
  if (::access(exe.c_str(), X_OK) != 0) return sys_fail("{} (build it: ninja -C <build> bench-api)", exe);
  DH_CHECK(fs::make_dirs(data_dir));
  // The default config path may not exist, and a named one must.
  std::string config = fs::join(data_dir, "empty.toml");
  DH_CHECK(fs::write_file_atomic(config, ""));
  DH_TRY(daemon, Daemon::start({exe, "--data-dir", data_dir, "--admin-kubeconfig", fs::join(data_dir, "admin.kubeconfig"),
                                "--bind-address", "127.0.0.1", "--port", "0", "--log-level", "warn", "--config",
                                config},
                               log_path));
  int port = 0;
  bool gone = false;
  wait_until([&] { return (gone = daemon.exited()) || (port = announced_port(log_path)) > 0; },
             std::chrono::seconds(60));
  DH_CHECK(check_not_stopped());
  if (gone) return fail(ErrorKind::Unavailable, "deckhand-apiserver exited during start-up; see {}", log_path);
  if (port <= 0) return fail(ErrorKind::DeadlineExceeded, "deckhand-apiserver announced no port in 60 s; see {}", log_path);
  std::string pki = fs::join(data_dir, "pki");
  TlsFiles tls{fs::join(pki, "ca.crt"), fs::join(pki, "admin.crt"), fs::join(pki, "admin.key")};
  for (auto* f : {&tls.ca, &tls.cert, &tls.key})
    if (!fs::exists(*f)) return fail(ErrorKind::NotFound, "deckhand-apiserver made no {}", *f);
  return ServerUnderTest{std::move(daemon), fmt::format("https://127.0.0.1:{}", port), tls, log_path};
}

Result<ServerUnderTest> start_etcd(const std::string& exe, const std::string& data_dir, const std::string& log_path) {
  if (::access(exe.c_str(), X_OK) != 0)
    return sys_fail("{} (install etcd-server: packaging/install-deps.sh, or pass --no-etcd)", exe);
  int client_port = 0, peer_port = 0;
  {
    DH_TRY(client, reserve_loopback_port());
    DH_TRY(peer, reserve_loopback_port());
    client_port = client.second;
    peer_port = peer.second;
  }
  std::string client_url = fmt::format("http://127.0.0.1:{}", client_port);
  std::string peer_url = fmt::format("http://127.0.0.1:{}", peer_port);
  DH_TRY(daemon, Daemon::start({exe, "--name", "default", "--data-dir", data_dir, "--listen-client-urls", client_url,
                                "--advertise-client-urls", client_url, "--listen-peer-urls", peer_url,
                                "--initial-advertise-peer-urls", peer_url, "--initial-cluster", "default=" + peer_url,
                                "--logger", "zap", "--log-level", "warn"},
                               log_path));
  DH_TRY(client, HttpClient::make({}));
  bool gone = false, healthy = false;
  wait_until(
      [&] {
        if ((gone = daemon.exited())) return true;
        auto r = client.get(client_url + "/health");
        healthy = r && r->status == 200 && r->body.find("\"true\"") != std::string::npos;
        if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return healthy;
      },
      std::chrono::seconds(60));
  DH_CHECK(check_not_stopped());
  if (gone) return fail(ErrorKind::Unavailable, "etcd exited during start-up; see {}", log_path);
  if (!healthy) return fail(ErrorKind::DeadlineExceeded, "etcd not healthy after 60 s; see {}", log_path);
  return ServerUnderTest{std::move(daemon), client_url, {}, log_path};
}

Result<ProcessMemory> memory_of_process(pid_t pid) {
  DH_TRY(status, fs::read_file(fmt::format("/proc/{}/status", pid)));
  ProcessMemory m;
  auto field = [&](std::string_view name) -> uint64_t {
    auto at = status.find(name);
    return at == std::string::npos ? 0 : std::strtoull(status.c_str() + at + name.size(), nullptr, 10);
  };
  m.rss_kib = field("\nVmRSS:");
  m.peak_kib = field("\nVmHWM:");
  if (m.rss_kib == 0) return fail(ErrorKind::NotFound, "no VmRSS in /proc/{}/status", pid);
  return m;
}

Result<double> process_cpu_seconds(pid_t pid) {
  DH_TRY(stat, fs::read_file(fmt::format("/proc/{}/stat", pid)));
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return fail(ErrorKind::Internal, "unreadable /proc/{}/stat", pid);
  auto fields = split_nonempty(std::string_view(stat).substr(close + 2), ' ');
  if (fields.size() < 13) return fail(ErrorKind::Internal, "short /proc/{}/stat", pid);
  double ticks = std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr);
  return ticks / double(::sysconf(_SC_CLK_TCK));
}

}  // namespace deckhand::bench
