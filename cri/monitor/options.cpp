#include "options.h"

#include <charconv>
#include <cstring>

namespace deckhand::monitor {

namespace {

Status set_fd(int& out, std::string_view v) {
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || out < 0)
    return fail(ErrorKind::InvalidArgument, "--sync-fd wants a file descriptor, got '{}'", v);
  return {};
}

}  // namespace

Result<MonitorOptions> parse_options(int argc, char** argv) {
  MonitorOptions o;
  for (int i = 1; i < argc; i += 2) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) return fail(ErrorKind::InvalidArgument, "{} wants a value", flag);
    const char* v = argv[i + 1];
    if (flag == "--id") o.id = v;
    else if (flag == "--bundle") o.bundle = v;
    else if (flag == "--runtime") o.runtime = v;
    else if (flag == "--runtime-root") o.runtime_root = v;
    else if (flag == "--log-path") o.log_path = v;
    else if (flag == "--state-dir") o.state_dir = v;
    else if (flag == "--sync-fd") DH_CHECK(set_fd(o.sync_fd, v));
    else return fail(ErrorKind::InvalidArgument, "unknown flag {}", flag);
  }
  for (auto [name, value] : {std::pair{"--id", &o.id}, {"--bundle", &o.bundle}, {"--runtime", &o.runtime},
                             {"--runtime-root", &o.runtime_root}, {"--state-dir", &o.state_dir}})
    if (value->empty()) return fail(ErrorKind::InvalidArgument, "{} is required", name);
  return o;
}

}  // namespace deckhand::monitor
