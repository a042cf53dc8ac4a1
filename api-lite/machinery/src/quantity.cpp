#include "deckhand/api/quantity.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

namespace deckhand::api {

namespace {

std::optional<int64_t> rounded_up(std::optional<long double> v) {
  if (!v || *v < 0 || *v > 9.2e18L) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*v - 1e-9L));
}

}  // namespace

std::optional<long double> quantity_number(const Json& q) {
  if (q.is_number()) return q.get<long double>();
  if (!q.is_string()) return std::nullopt;
  const std::string s = q.get<std::string>();
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
    if (s[i] != '.') ++digits;
    ++i;
  }
  if (digits == 0) return std::nullopt;
  std::string number = s.substr(0, i), suffix = s.substr(i);
  char* end = nullptr;
  long double v = std::strtold(number.c_str(), &end);
  if (end == nullptr || *end != '\0') return std::nullopt;
  static const std::map<std::string, long double> kFactors = {
      {"", 1.0L},     {"n", 1e-9L},  {"u", 1e-6L},  {"m", 1e-3L},  {"k", 1e3L},  {"M", 1e6L},   {"G", 1e9L},
      {"T", 1e12L},   {"P", 1e15L},  {"E", 1e18L},  {"Ki", 1024.0L}, {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},         {"Ti", 1099511627776.0L},     {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L}};
  if (auto f = kFactors.find(suffix); f != kFactors.end()) return v * f->second;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    char* exp_end = nullptr;
    long exponent = std::strtol(suffix.c_str() + 1, &exp_end, 10);
    if (exp_end == nullptr || *exp_end != '\0' || exponent > 30 || exponent < -30) return std::nullopt;
    return v * std::pow(10.0L, static_cast<long double>(exponent));
  }
  return std::nullopt;
}

std::optional<int64_t> quantity_milli(const Json& q) {
  auto v = quantity_number(q);
  if (!v) return std::nullopt;
  return rounded_up(*v * 1000.0L);
}

std::optional<int64_t> quantity_value(const Json& q) { return rounded_up(quantity_number(q)); }

}  // namespace deckhand::api
