#include "deckhand/common/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace deckhand::log {

namespace {
std::mutex mu;
spdlog::level::level_enum current = spdlog::level::warn;
}  // namespace

bool init(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (lvl == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(mu);
  current = lvl;
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(lvl);
  spdlog::apply_all([lvl](const std::shared_ptr<spdlog::logger>& l) { l->set_level(lvl); });
  return true;
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(mu);
  if (auto l = spdlog::get(component)) return l;
  auto l = spdlog::stderr_color_mt(component);
  l->set_level(current);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v", spdlog::pattern_time_type::utc);
  return l;
}

}  // namespace deckhand::log
