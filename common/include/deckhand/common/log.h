// Logging: spdlog, one named logger per component, quiet (warn) by default.
// Lines look like: 2026-11-22T03:04:05.123Z warn cri sandbox=ab12... msg
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace deckhand::log {

// Sets the level for every component logger ("trace", "debug", "info",
// "warn", "error", "off"). Returns false for an unknown level name.
bool init(const std::string& level = "warn");

// The logger of a component ("cri", "monitor", "cni", ...), created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace deckhand::log
