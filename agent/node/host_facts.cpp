#include "host_facts.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>

#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"

namespace deckhand::agent {

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The first line of a small file, trimmed; empty when the file is unreadable.
std::string first_line_or_empty(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return "";
  return std::string(trim(split(*text, '\n').front()));
}

// os-release values are shell-quoted: "..." with backslash escapes, or '...'.
std::string unquote_shell_value(std::string_view v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') return std::string(v.substr(1, v.size() - 2));
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  v = v.substr(1, v.size() - 2);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

Result<uint64_t> storage_kib(const std::string& dir) {
  DH_CHECK(fs::make_dirs(dir));
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return sys_fail("statvfs {}", dir);
  return static_cast<uint64_t>(st.f_blocks) * st.f_frsize / 1024;
}

Result<std::string> first_ipv4() {
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return sys_fail("list network interfaces");
  std::string found = "127.0.0.1";
  for (struct ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if (!(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
    char text[INET_ADDRSTRLEN] = {};
    auto* in = reinterpret_cast<struct sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) {
      found = text;
      break;
    }
  }
  ::freeifaddrs(list);
  return found;
}

Result<std::string> os_image() {
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    auto text = fs::read_file(path);
    if (text) return parse_os_pretty_name(*text);
    if (text.error().kind != ErrorKind::NotFound) return tl::unexpected(text.error());
  }
  return std::string("Linux");
}

}  // namespace

Result<uint64_t> parse_memory_total_kib(std::string_view meminfo) {
  for (std::string_view line : split(meminfo, '\n')) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::string_view rest = trim(line.substr(9));
    uint64_t kib = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
    if (ec != std::errc() || trim(std::string_view(end, rest.data() + rest.size() - end)) != "kB")
      return fail(ErrorKind::Internal, "meminfo: unexpected MemTotal line \"{}\"", line);
    return kib;
  }
  return fail(ErrorKind::Internal, "meminfo has no MemTotal line");
}

std::string parse_os_pretty_name(std::string_view os_release) {
  for (std::string_view line : split(os_release, '\n')) {
    line = trim(line);
    if (line.rfind("PRETTY_NAME=", 0) == 0) return unquote_shell_value(line.substr(12));
  }
  return "Linux";
}

std::string go_arch(std::string_view machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.rfind("armv", 0) == 0) return "arm";
  if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") return "386";
  return std::string(machine);  // ppc64le, s390x, riscv64 are spelt alike
}

Result<HostFacts> read_host_facts(const std::string& root_dir) {
  HostFacts f;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) return sys_fail("count online CPUs");
  f.cpus = cpus;
  DH_TRY(meminfo, fs::read_file("/proc/meminfo"));
  DH_TRY(memory, parse_memory_total_kib(meminfo));
  f.memory_kib = memory;
  DH_TRY(storage, storage_kib(root_dir));
  f.ephemeral_storage_kib = storage;
  f.machine_id = first_line_or_empty("/etc/machine-id");
  f.system_uuid = first_line_or_empty("/sys/class/dmi/id/product_uuid");
  DH_TRY(boot_id, fs::read_file("/proc/sys/kernel/random/boot_id"));
  f.boot_id = std::string(trim(boot_id));
  struct utsname u {};
  if (::uname(&u) != 0) return sys_fail("uname");
  f.kernel_version = u.release;
  f.architecture = go_arch(u.machine);
  DH_TRY(image, os_image());
  f.os_image = image;
  DH_TRY(ip, first_ipv4());
  f.internal_ip = ip;
  return f;
}

}  // namespace deckhand::agent
