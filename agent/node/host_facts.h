// What the Node reports about the machine it runs on: CPUs, memory, disk,
// identity (machine id, boot id, kernel, OS), architecture and address.
// Read from /proc, /sys, /etc and the kernel; the parsers are separate so
// that they can be checked on sample texts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::agent {

struct HostFacts {
  int64_t cpus = 0;
  uint64_t memory_kib = 0;             // MemTotal
  uint64_t ephemeral_storage_kib = 0;  // size of the file system holding the agent's root dir
  std::string machine_id;              // /etc/machine-id, empty when absent
  std::string system_uuid;             // DMI product_uuid, empty when unreadable
  std::string boot_id;
  std::string kernel_version;  // uname -r
  std::string os_image;        // PRETTY_NAME of os-release
  std::string architecture;    // GOARCH spelling: amd64, arm64, ...
  std::string internal_ip;     // first non-loopback IPv4 of an up interface, else 127.0.0.1
};

// Reads everything; root_dir is created when missing (its file system's size
// is the node's ephemeral storage). Optional facts (machine id, system UUID)
// are left empty when unreadable; the rest fail with what was being read.
Result<HostFacts> read_host_facts(const std::string& root_dir);

// "MemTotal:  16303264 kB" line of /proc/meminfo, in KiB.
Result<uint64_t> parse_memory_total_kib(std::string_view meminfo);
// PRETTY_NAME of an os-release text, unquoted; "Linux" when it has none.
std::string parse_os_pretty_name(std::string_view os_release);
// uname's machine ("x86_64") in Go's spelling ("amd64"), as Kubernetes labels use it.
std::string go_arch(std::string_view machine);

}  // namespace deckhand::agent
