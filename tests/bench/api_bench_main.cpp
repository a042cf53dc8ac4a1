// deckhand-api-bench: deckhand-apiserver (SQLite store) against Debian's
// etcd 3.4, both on the same disk and loopback, driven over HTTP(S)/JSON with
// libcurl in one run:
//   1. durable creates: one client in sequence (latency quantiles), then C
//      clients at once (throughput); etcd: puts of a value of the same size;
//   2. watch fan-out: W watches from one resourceVersion, then K single
//      creates; for each, the time from just before the write until the
//      last watcher has the event;
//   3. a list of M pods (etcd: a range over M keys);
//   4. each server's memory after the run.
// Judges the targets. Everything it starts goes again, pass or fail,
// also on Ctrl-C/SIGTERM.
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "api_bench_http.h"
#include "api_bench_servers.h"
#include "api_bench_watch.h"
#include "bench_env.h"
#include "bench_stats.h"
#include "deckhand/common/base64.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/text.h"

using namespace deckhand;
using namespace deckhand::bench;
using Clock = std::chrono::steady_clock;

namespace {

const char* kUsage =
    "usage: deckhand-api-bench [--creates N] [--clients C] [--watchers W] [--fanout-writes K]\n"
    "                          [--list-size M] [--dir DIR] [--build-dir DIR] [--no-etcd]\n"
    "  deckhand-apiserver against etcd 3.4 (/usr/bin/etcd): N sequential creates (1000),\n"
    "  5000 creates from C clients (32), fan-out of K writes (50) to W watches (1000),\n"
    "  a list of M pods (10000), memory. Data of both under DIR (a new temp dir in /var/tmp).\n";

constexpr int kConcurrentCreates = 5000;
constexpr int kWarmUpRequests = 20;
constexpr int kListRepeats = 5;

struct Options {
  int creates = 1000;
  int clients = 32;
  int watchers = 1000;
  int fanout_writes = 50;
  int list_size = 10000;
  std::string dir = "/var/tmp";
  std::string build_dir;
  bool etcd = true;
};

Result<int> positive(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 1 || n > 1000000)
    return fail(ErrorKind::InvalidArgument, "{} wants a number from 1 to 1000000, got '{}'", flag, v);
  return int(n);
}

std::string default_build_dir() {
  // This program is <build>/tests/bench/deckhand-api-bench.
  char buf[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string exe(buf, n > 0 ? size_t(n) : 0);
  for (int up = 0; up < 3; ++up) exe = exe.substr(0, exe.rfind('/'));
  return exe;
}

Result<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return fail(ErrorKind::InvalidArgument, "{} needs a value", a);
      return std::string(argv[++i]);
    };
    auto number = [&](int& dst) -> Status {
      DH_TRY(v, value());
      DH_TRY(n, positive(a, v));
      dst = n;
      return {};
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--creates") DH_CHECK(number(o.creates));
    else if (a == "--clients") DH_CHECK(number(o.clients));
    else if (a == "--watchers") DH_CHECK(number(o.watchers));
    else if (a == "--fanout-writes") DH_CHECK(number(o.fanout_writes));
    else if (a == "--list-size") DH_CHECK(number(o.list_size));
    else if (a == "--dir") {
      DH_TRY(v, value());
      o.dir = v;
    } else if (a == "--build-dir") {
      DH_TRY(v, value());
      o.build_dir = v;
    } else if (a == "--no-etcd") {
      o.etcd = false;
    } else {
      return fail(ErrorKind::InvalidArgument, "unknown argument {}", a);
    }
  }
  if (o.build_dir.empty()) o.build_dir = default_build_dir();
  return o;
}

// Each watch is a connection on both ends (and the server is our child, so
// it inherits the limit set here).
Status raise_open_files_limit(int watchers, int clients) {
  rlim_t want = rlim_t(watchers) * 2 + rlim_t(clients) * 2 + 1024;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("getrlimit RLIMIT_NOFILE");
  if (lim.rlim_cur >= want) return {};
  lim.rlim_cur = want;
  if (lim.rlim_max < want) lim.rlim_max = want;  // needs root (CAP_SYS_RESOURCE)
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("raise RLIMIT_NOFILE to {}", want);
  return {};
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string pod_body(const std::string& name) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}
      .dump();
}

// The first key after every key that starts with prefix (etcd's range_end for a prefix).
std::string prefix_end(std::string prefix) {
  prefix.back() = char(prefix.back() + 1);
  return prefix;
}

// What one phase measured of one server.
struct Figures {
  std::vector<double> create_ms;   // sequential, per request
  double concurrent_per_s = 0;
  std::vector<double> fanout_last_ms, fanout_first_ms;
  double fanout_server_cpu_ms = 0, fanout_client_cpu_ms = 0;  // per write
  std::vector<double> list_ms;
  size_t list_bytes = 0;
  std::optional<ProcessMemory> memory;
};

// The apiserver's side: pods in namespaces.
struct ApiTarget {
  ServerUnderTest& server;
  std::string pods_url(const std::string& ns) const { return server.base_url + "/api/v1/namespaces/" + ns + "/pods"; }
  Status create(HttpClient& c, const std::string& ns, const std::string& name) const {
    return expect_success(c.post(pods_url(ns), pod_body(name)), "create pod " + name);
  }
};

// etcd's side: the same keys the apiserver's store uses, the value a stored pod's JSON.
struct EtcdTarget {
  ServerUnderTest& server;
  std::string value_b64;
  static std::string key(const std::string& ns, const std::string& name) { return "/registry/pods/" + ns + "/" + name; }
  Status put(HttpClient& c, const std::string& k) const {
    return expect_success(c.post(server.base_url + "/v3/kv/put", Json{{"key", base64_encode(k)}, {"value", value_b64}}.dump()),
                          "etcd put " + k);
  }
};

Status create_namespace(ServerUnderTest& api, HttpClient& c, const std::string& ns) {
  Json body{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
  return expect_success(c.post(api.base_url + "/api/v1/namespaces", body.dump()), "create namespace " + ns);
}

// 1a. One client each, interleaved request by request so that both servers
// see the same machine.
Status sequential_creates(const Options& o, ApiTarget& api, HttpClient& api_client, EtcdTarget* etcd,
                          HttpClient* etcd_client, Figures& fa, Figures& fe) {
  for (int i = 0; i < kWarmUpRequests; ++i) {
    DH_CHECK(api.create(api_client, "default", fmt::format("warm-{}", i)));
    if (etcd) DH_CHECK(etcd->put(*etcd_client, EtcdTarget::key("default", fmt::format("warm-{}", i))));
  }
  for (int i = 0; i < o.creates; ++i) {
    DH_CHECK(check_not_stopped());
    auto t0 = Clock::now();
    DH_CHECK(api.create(api_client, "default", fmt::format("seq-{}", i)));
    fa.create_ms.push_back(ms_between(t0, Clock::now()));
    if (!etcd) continue;
    t0 = Clock::now();
    DH_CHECK(etcd->put(*etcd_client, EtcdTarget::key("default", fmt::format("seq-{}", i))));
    fe.create_ms.push_back(ms_between(t0, Clock::now()));
  }
  return {};
}

// 1b and the filling of 3: `count` writes from C clients, each connected before the clock starts.
Result<double> api_concurrent_creates(const Options& o, ApiTarget& api, const std::string& ns, const std::string& stem,
                                      int count) {
  auto warm = [&](HttpClient& c, int) { return expect_success(c.get(api.server.base_url + "/version"), "GET /version"); };
  auto create = [&](HttpClient& c, int i) { return api.create(c, ns, fmt::format("{}-{}", stem, i)); };
  return run_concurrently(o.clients, count, api.server.tls, warm, create);
}

Result<double> etcd_concurrent_puts(const Options& o, EtcdTarget& etcd, const std::string& ns, const std::string& stem,
                                    int count) {
  auto warm = [&](HttpClient& c, int) { return expect_success(c.get(etcd.server.base_url + "/version"), "GET /version"); };
  auto put = [&](HttpClient& c, int i) { return etcd.put(c, EtcdTarget::key(ns, fmt::format("{}-{}", stem, i))); };
  return run_concurrently(o.clients, count, {}, warm, put);
}

// K single writes, each waited for at every watcher before the next; also
// what one write costs the server and our reading side in CPU time.
Status measure_fanout(const Options& o, WatchFanout& fanout, pid_t server, const std::function<Status(int)>& write,
                      Figures& f) {
  DH_CHECK(fanout.wait_established(std::chrono::seconds(120)));
  DH_TRY(server_cpu0, process_cpu_seconds(server));
  double client_cpu0 = fanout.loop_cpu_seconds();
  for (int k = 0; k < o.fanout_writes; ++k) {
    DH_CHECK(check_not_stopped());
    auto t0 = Clock::now();
    DH_CHECK(write(k));
    DH_TRY(arrival, fanout.wait_for_change(k, std::chrono::seconds(10)));
    f.fanout_first_ms.push_back(ms_between(t0, arrival.first));
    f.fanout_last_ms.push_back(ms_between(t0, arrival.last));
  }
  DH_TRY(server_cpu1, process_cpu_seconds(server));
  f.fanout_server_cpu_ms = (server_cpu1 - server_cpu0) * 1000 / o.fanout_writes;
  f.fanout_client_cpu_ms = (fanout.loop_cpu_seconds() - client_cpu0) * 1000 / o.fanout_writes;
  return {};
}

Result<std::string> resource_version_of_list(HttpClient& c, const std::string& url) {
  auto reply = c.get(url);
  DH_CHECK(expect_success(reply, "list " + url));
  DH_TRY(list, parse_json(reply->body, "pod list"));
  if (!list.contains("metadata") || !list["metadata"].contains("resourceVersion") ||
      !list["metadata"]["resourceVersion"].is_string())
    return fail(ErrorKind::Internal, "list {} has no metadata.resourceVersion", url);
  return list["metadata"]["resourceVersion"].get<std::string>();
}

Status api_fanout(const Options& o, ApiTarget& api, HttpClient& c, Figures& f) {
  DH_TRY(rv, resource_version_of_list(c, api.pods_url("bench-list")));
  WatchProtocol p;
  p.url = api.pods_url("default") + "?watch=true&resourceVersion=" + rv;
  p.events_in = [](std::string_view line) {
    if (line.find("\"type\":\"ERROR\"") != std::string_view::npos) return -1;
    return line.find("\"type\":\"ADDED\"") != std::string_view::npos ? 1 : 0;
  };
  // The server sends the headers once the watch is registered.
  DH_TRY(fanout, WatchFanout::open(o.watchers, o.fanout_writes, p, api.server.tls));
  auto write = [&](int k) { return api.create(c, "default", fmt::format("fan-{}", k)); };
  return measure_fanout(o, *fanout, api.server.daemon.pid(), write, f);
}

Result<long long> etcd_revision(EtcdTarget& etcd, HttpClient& c) {
  auto reply = c.post(etcd.server.base_url + "/v3/kv/range", Json{{"key", base64_encode("/registry/none")}}.dump());
  DH_CHECK(expect_success(reply, "etcd range"));
  DH_TRY(j, parse_json(reply->body, "etcd range answer"));
  if (!j.contains("header") || !j["header"].contains("revision") || !j["header"]["revision"].is_string())
    return fail(ErrorKind::Internal, "etcd range answer has no header.revision");
  return std::atoll(j["header"]["revision"].get<std::string>().c_str());
}

Status etcd_fanout(const Options& o, EtcdTarget& etcd, HttpClient& c, Figures& f) {
  DH_TRY(rev, etcd_revision(etcd, c));
  std::string prefix = "/registry/pods/default/";
  WatchProtocol p;
  p.url = etcd.server.base_url + "/v3/watch";
  p.post_body = Json{{"create_request",
                      {{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}, {"start_revision", rev + 1}}}}
                    .dump();
  p.events_in = [](std::string_view line) {
    if (line.find("\"canceled\":true") != std::string_view::npos || line.rfind("{\"error\"", 0) == 0) return -1;
    int n = 0;
    for (size_t at = line.find("\"kv\":"); at != std::string_view::npos; at = line.find("\"kv\":", at + 1)) ++n;
    return n;
  };
  p.marks_established = [](std::string_view line) { return line.find("\"created\":true") != std::string_view::npos; };
  DH_TRY(fanout, WatchFanout::open(o.watchers, o.fanout_writes, p, {}));
  auto write = [&](int k) { return etcd.put(c, EtcdTarget::key("default", fmt::format("fan-{}", k))); };
  return measure_fanout(o, *fanout, etcd.server.daemon.pid(), write, f);
}

// One untimed read, then kListRepeats timed ones; checks the count once.
Status time_reads(const std::function<Result<HttpReply>()>& read, const std::function<size_t(const Json&)>& count_of,
                  size_t want, Figures& f) {
  auto first = read();
  DH_CHECK(expect_success(first, "list"));
  DH_TRY(j, parse_json(first->body, "list answer"));
  if (size_t n = count_of(j); n != want)
    return fail(ErrorKind::Internal, "the list has {} items, want {}", n, want);
  f.list_bytes = first->body.size();
  for (int r = 0; r < kListRepeats; ++r) {
    auto t0 = Clock::now();
    auto reply = read();
    f.list_ms.push_back(ms_between(t0, Clock::now()));
    DH_CHECK(expect_success(reply, "list"));
  }
  return {};
}

Status api_list(const Options& o, ApiTarget& api, HttpClient& c, Figures& f) {
  std::fprintf(stderr, "deckhand-api-bench: creating %d pods for the list\n", o.list_size);
  DH_TRY(seconds, api_concurrent_creates(o, api, "bench-list", "list", o.list_size));
  (void)seconds;
  auto count = [](const Json& j) { return j.contains("items") && j["items"].is_array() ? j["items"].size() : 0; };
  return time_reads([&] { return c.get(api.pods_url("bench-list")); }, count, size_t(o.list_size), f);
}

Status etcd_list(const Options& o, EtcdTarget& etcd, HttpClient& c, Figures& f) {
  DH_TRY(seconds, etcd_concurrent_puts(o, etcd, "bench-list", "list", o.list_size));
  (void)seconds;
  std::string prefix = "/registry/pods/bench-list/";
  std::string body = Json{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}}.dump();
  auto count = [](const Json& j) {
    return j.contains("count") && j["count"].is_string() ? size_t(std::atoll(j["count"].get<std::string>().c_str())) : 0;
  };
  return time_reads([&] { return c.post(etcd.server.base_url + "/v3/kv/range", body); }, count, size_t(o.list_size), f);
}

std::string etcd_version(const std::string& exe) {
  auto out = run_checked({exe, "--version"}, std::chrono::seconds(10));
  if (!out) return "etcd";
  auto at = out->find("etcd Version: ");
  return at == std::string::npos ? "etcd" : "etcd " + out->substr(at + 14, out->find('\n', at) - at - 14);
}

std::string filesystem_of(const std::string& dir) {
  auto out = run_checked({"stat", "-f", "-c", "%T", dir}, std::chrono::seconds(10));
  return out ? out->substr(0, out->find('\n')) : "?";
}

void print_header(const Options& o, const std::string& root, const std::string& peer) {
  utsname u{};
  ::uname(&u);
  auto loadavg = fs::read_file("/proc/loadavg").value_or("?");
  auto load = split(loadavg, ' ');  // 1, 5 and 15 minutes, then tasks
  fmt::print("deckhand-api-bench: {} cores, kernel {}, load {} {} {}\n", ::sysconf(_SC_NPROCESSORS_ONLN), u.release,
             load[0], load.size() > 1 ? load[1] : "", load.size() > 2 ? load[2] : "");
  fmt::print("data of both servers under {} ({})\n", root, filesystem_of(root));
  fmt::print("clients: libcurl over loopback, HTTPS with client certificates (apiserver), HTTP/JSON gateway ({})\n\n",
             o.etcd ? peer : "etcd skipped");
  fmt::print("{:<46}{:>20}{:>20}\n", "", "deckhand-apiserver", o.etcd ? peer : "(no etcd)");
}

std::string cell_ms(const std::vector<double>& v, double q) {
  return v.empty() ? "-" : fmt::format("{:.2f} ms", quantile(v, q));
}

void print_figures(const Options& o, const Figures& a, const Figures& e) {
  auto row = [](const std::string& what, const std::string& x, const std::string& y) {
    fmt::print("{:<46}{:>20}{:>20}\n", what, x, y);
  };
  std::string seq = fmt::format("1 client, {} creates/puts", o.creates);
  row(seq + "  median", cell_ms(a.create_ms, 0.5), cell_ms(e.create_ms, 0.5));
  row(seq + "  p90", cell_ms(a.create_ms, 0.9), cell_ms(e.create_ms, 0.9));
  row(seq + "  p99", cell_ms(a.create_ms, 0.99), cell_ms(e.create_ms, 0.99));
  auto rate = [](const Figures& f) { return f.concurrent_per_s > 0 ? fmt::format("{:.0f} /s", f.concurrent_per_s) : "-"; };
  row(fmt::format("{} clients, {} creates/puts  rate", o.clients, kConcurrentCreates), rate(a), rate(e));
  std::string fan = fmt::format("fan-out {} watches, {} writes", o.watchers, o.fanout_writes);
  row(fan + "  last, median", cell_ms(a.fanout_last_ms, 0.5), cell_ms(e.fanout_last_ms, 0.5));
  row(fan + "  last, p99", cell_ms(a.fanout_last_ms, 0.99), cell_ms(e.fanout_last_ms, 0.99));
  row(fan + "  first, median", cell_ms(a.fanout_first_ms, 0.5), cell_ms(e.fanout_first_ms, 0.5));
  auto cpu = [](const std::vector<double>& seen, double ms) { return seen.empty() ? "-" : fmt::format("{:.1f} ms", ms); };
  row(fan + "  server CPU/write", cpu(a.fanout_last_ms, a.fanout_server_cpu_ms),
      cpu(e.fanout_last_ms, e.fanout_server_cpu_ms));
  row(fan + "  reader CPU/write", cpu(a.fanout_last_ms, a.fanout_client_cpu_ms),
      cpu(e.fanout_last_ms, e.fanout_client_cpu_ms));
  std::string list = fmt::format("list of {} pods (etcd: range)", o.list_size);
  row(list + "  median", cell_ms(a.list_ms, 0.5), cell_ms(e.list_ms, 0.5));
  auto size = [](const Figures& f) { return f.list_bytes ? fmt::format("{:.2f} MiB", f.list_bytes / 1048576.0) : "-"; };
  row(list + "  size", size(a), size(e));
  auto mem = [](const Figures& f, bool peak) {
    return f.memory ? fmt::format("{:.1f} MiB", (peak ? f.memory->peak_kib : f.memory->rss_kib) / 1024.0) : "-";
  };
  row("memory after the run  RSS (VmRSS)", mem(a, false), mem(e, false));
  row("memory, peak  VmHWM", mem(a, true), mem(e, true));
}

void print_targets(const Options& o, const Figures& a, const Figures& e) {
  auto verdict = [](bool met) { return met ? "MET" : "NOT MET"; };
  fmt::print("\ntargets:\n");
  double am = quantile(a.create_ms, 0.5), em = quantile(e.create_ms, 0.5);
  if (e.create_ms.empty())
    fmt::print("  single-client create median <= 2x etcd put median: not judged (no etcd)\n");
  else
    fmt::print("  single-client create median <= 2x etcd put median: {} ({:.2f} ms vs {:.2f} ms: {:.2f}x)\n",
               verdict(am <= 2 * em), am, em, am / std::max(em, 1e-9));
  fmt::print("  {}-client creates >= 3000/s: {} ({:.0f} /s)\n", o.clients, verdict(a.concurrent_per_s >= 3000),
             a.concurrent_per_s);
  double p99 = quantile(a.fanout_last_ms, 0.99);
  fmt::print("  fan-out p99 (last watcher) < 50 ms: {} ({:.2f} ms)\n", verdict(p99 < 50), p99);
}

Status run(const Options& o) {
  DH_CHECK(raise_open_files_limit(o.watchers, o.clients));
  DH_CHECK(fs::make_dirs(o.dir));
  // TempRoot makes its directory under $TMPDIR.
  ::setenv("TMPDIR", o.dir.c_str(), 1);
  DH_TRY(root, TempRoot::create("deckhand-api-bench"));
  std::string etcd_exe = "/usr/bin/etcd";
  DH_TRY(api_server, start_apiserver(fs::join(o.build_dir, "api-lite/apiserver/deckhand-apiserver"),
                                     root.sub("apiserver"), root.sub("apiserver.log")));
  std::optional<ServerUnderTest> etcd_server;
  if (o.etcd) {
    DH_TRY(s, start_etcd(etcd_exe, root.sub("etcd"), root.sub("etcd.log")));
    etcd_server.emplace(std::move(s));
  }
  ApiTarget api{api_server};
  DH_TRY(api_client, HttpClient::make(api_server.tls));
  DH_CHECK(create_namespace(api_server, api_client, "bench-list"));
  // etcd's value: a pod as the apiserver stores it (defaults filled in).
  auto stored = api_client.post(api.pods_url("default"), pod_body("value-sample"));
  DH_CHECK(expect_success(stored, "create pod value-sample"));
  std::optional<EtcdTarget> etcd;
  std::optional<HttpClient> etcd_client;
  if (etcd_server) {
    etcd.emplace(EtcdTarget{*etcd_server, base64_encode(stored->body)});
    DH_TRY(c, HttpClient::make({}));
    etcd_client.emplace(std::move(c));
  }
  print_header(o, root.path(), o.etcd ? etcd_version(etcd_exe) : "");
  if (!wait_for_quiet_machine(std::chrono::seconds(20))) fmt::print("note: the machine did not go quiet before the run\n");
  std::fflush(stdout);

  Figures fa, fe;
  fmt::print(stderr, "deckhand-api-bench: {} sequential creates/puts\n", o.creates);
  DH_CHECK(sequential_creates(o, api, api_client, etcd ? &*etcd : nullptr, etcd_client ? &*etcd_client : nullptr, fa, fe));
  fmt::print(stderr, "deckhand-api-bench: {} creates/puts from {} clients\n", kConcurrentCreates, o.clients);
  DH_TRY(api_s, api_concurrent_creates(o, api, "default", "conc", kConcurrentCreates));
  fa.concurrent_per_s = kConcurrentCreates / api_s;
  if (etcd) {
    DH_TRY(etcd_s, etcd_concurrent_puts(o, *etcd, "default", "conc", kConcurrentCreates));
    fe.concurrent_per_s = kConcurrentCreates / etcd_s;
  }
  fmt::print(stderr, "deckhand-api-bench: fan-out to {} watches\n", o.watchers);
  DH_CHECK(with_context(api_fanout(o, api, api_client, fa), "apiserver fan-out"));
  if (etcd) DH_CHECK(with_context(etcd_fanout(o, *etcd, *etcd_client, fe), "etcd fan-out"));
  DH_CHECK(api_list(o, api, api_client, fa));
  if (etcd) DH_CHECK(etcd_list(o, *etcd, *etcd_client, fe));
  DH_TRY(api_memory, memory_of_process(api_server.daemon.pid()));
  fa.memory = api_memory;
  if (etcd_server) {
    DH_TRY(etcd_memory, memory_of_process(etcd_server->daemon.pid()));
    fe.memory = etcd_memory;
  }
  print_figures(o, fa, fe);
  print_targets(o, fa, fe);
  if (etcd) fmt::print("\netcd values: {} bytes (a stored pod's JSON), keys /registry/pods/<ns>/<name>\n", stored->body.size());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  block_stop_signals();
  auto o = parse(argc, argv);
  if (!o) {
    std::fprintf(stderr, "deckhand-api-bench: %s\n%s", o.error().message.c_str(), kUsage);
    return 2;
  }
  if (CURLcode rc = curl_global_init(CURL_GLOBAL_ALL); rc != CURLE_OK) {
    std::fprintf(stderr, "deckhand-api-bench: curl_global_init: %s\n", curl_easy_strerror(rc));
    return 1;
  }
  auto st = run(*o);
  curl_global_cleanup();
  if (!st) {
    std::fprintf(stderr, "deckhand-api-bench: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
