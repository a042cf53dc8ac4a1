// The two servers deckhand-api-bench compares, each started as our child in
// its own directory and stopped (SIGTERM, then SIGKILL) when dropped.
#pragma once

#include <string>

#include "api_bench_http.h"
#include "bench_env.h"
#include "deckhand/common/result.h"

namespace deckhand::bench {

struct ServerUnderTest {
  Daemon daemon;
  std::string base_url;  // scheme://127.0.0.1:port
  TlsFiles tls;          // empty for plain HTTP
  std::string log_path;
};

// deckhand-apiserver on a free loopback port, its store and PKI in data_dir;
// ready once it printed its port. tls: the admin (system:masters) client.
Result<ServerUnderTest> start_apiserver(const std::string& exe, const std::string& data_dir,
                                        const std::string& log_path);

// A single-member etcd on free loopback ports, data in data_dir; ready once
// /health answers. Driven through its gRPC gateway (HTTP/JSON).
Result<ServerUnderTest> start_etcd(const std::string& exe, const std::string& data_dir, const std::string& log_path);

struct ProcessMemory {
  uint64_t rss_kib = 0;   // VmRSS
  uint64_t peak_kib = 0;  // VmHWM
};
Result<ProcessMemory> memory_of_process(pid_t pid);

// User plus system CPU time of all the process's threads so far.
Result<double> process_cpu_seconds(pid_t pid);

}  // namespace deckhand::bench
