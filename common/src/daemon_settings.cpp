#include "deckhand/common/daemon_settings.h"

#include <set>

#include "deckhand/common/text.h"
#include "deckhand/common/toml_config.h"

namespace deckhand {

namespace {

Result<bool> parse_boolean(const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return fail(ErrorKind::InvalidArgument, "want true or false, got '{}'", v);
}

std::string file_key(const std::string& flag) {
  std::string key = flag;
  for (char& ch : key)
    if (ch == '-') ch = '_';
  return key;
}

}  // namespace

DaemonSettings& DaemonSettings::add(Setting s) {
  settings_.push_back(std::move(s));
  return *this;
}

DaemonSettings& DaemonSettings::text(const std::string& name, std::string& dst) {
  return add({name, Kind::Text, 0, 0, [&dst](const std::string& v) -> Status {
                dst = v;
                return {};
              }, {}});
}

DaemonSettings& DaemonSettings::texts(const std::string& name, std::vector<std::string>& dst) {
  return add({name, Kind::Texts, 0, 0, [&dst](const std::string& v) -> Status {
                dst.push_back(v);
                return {};
              }, {}, [&dst] { dst.clear(); }});
}

DaemonSettings& DaemonSettings::boolean(const std::string& name, bool& dst) {
  return add({name, Kind::Boolean, 0, 0, [&dst](const std::string& v) -> Status {
                DH_TRY(b, parse_boolean(v));
                dst = b;
                return {};
              }, {}});
}

DaemonSettings& DaemonSettings::integer(const std::string& name, int64_t min, int64_t max,
                                        std::function<void(int64_t)> set) {
  return add({name, Kind::Integer, min, max, [min, max, set = std::move(set)](const std::string& v) -> Status {
                DH_TRY(n, parse_integer(v, min, max));
                set(n);
                return {};
              }, {}});
}

DaemonSettings& DaemonSettings::milliseconds(const std::string& name, int64_t min, std::chrono::milliseconds& dst) {
  // A day at most: longer is a typo, and it keeps steady_clock arithmetic far from overflow.
  return integer(name, min, int64_t{86'400'000}, [&dst](int64_t v) { dst = std::chrono::milliseconds(v); });
}

DaemonSettings& DaemonSettings::parsed(const std::string& name, Parse parse) {
  return add({name, Kind::Parsed, 0, 0, std::move(parse), {}});
}

DaemonSettings& DaemonSettings::table(const std::string& key, ReadTable read) {
  return add({key, Kind::Table, 0, 0, {}, std::move(read)});
}

const DaemonSettings::Setting* DaemonSettings::find_flag(const std::string& name) const {
  for (const auto& s : settings_)
    if (s.name == name && s.kind != Kind::Table) return &s;
  return nullptr;
}

Status DaemonSettings::apply_key(const Setting& s, const toml::node& value, const std::string& origin) const {
  std::string key = file_key(s.name);
  auto wrong = [&](const char* want) {
    return fail(ErrorKind::InvalidArgument, "{}: key '{}' must be {}", origin, key, want);
  };
  auto set = [&](const std::string& v) { return with_context(s.set_text(v), "{}: key '{}'", origin, key); };
  switch (s.kind) {
    case Kind::Text: {
      auto v = value.value_exact<std::string>();
      return v ? set(*v) : wrong("a string");
    }
    case Kind::Texts: {
      auto array = value.as_array();
      if (!array) return wrong("an array of strings");
      s.clear();  // the file's list replaces the default
      for (const auto& item : *array) {
        auto v = item.value_exact<std::string>();
        if (!v) return wrong("an array of strings");
        DH_CHECK(set(*v));
      }
      return {};
    }
    case Kind::Boolean: {
      auto v = value.value_exact<bool>();
      return v ? set(*v ? "true" : "false") : wrong("true or false");
    }
    case Kind::Integer: {
      auto v = value.value_exact<int64_t>();
      if (!v || *v < s.min || *v > s.max)
        return fail(ErrorKind::InvalidArgument, "{}: key '{}' must be an integer from {} to {}", origin, key, s.min,
                    s.max);
      return set(std::to_string(*v));
    }
    case Kind::Parsed: {
      if (auto v = value.value_exact<std::string>()) return set(*v);
      if (auto n = value.value_exact<int64_t>()) return set(std::to_string(*n));
      return wrong("a string");
    }
    case Kind::Table: {
      auto table = value.as_table();
      return table ? s.read_table(*table, origin) : wrong("a table");
    }
  }
  return {};
}

Status DaemonSettings::apply_file(const toml::table& file, const std::string& origin) const {
  for (auto&& [k, value] : file) {
    std::string key(k.str());
    // A table() may share its key with a flag: the file then gives either form.
    const Setting* setting = nullptr;
    for (const auto& s : settings_)
      if (file_key(s.name) == key && (setting == nullptr || (s.kind == Kind::Table) == value.is_table())) setting = &s;
    if (setting == nullptr) return fail(ErrorKind::InvalidArgument, "{}: unknown key '{}'", origin, key);
    DH_CHECK(apply_key(*setting, value, origin));
  }
  return {};
}

Status DaemonSettings::apply_flags(const std::vector<std::string>& args, bool& help) const {
  std::set<const Setting*> repeated;  // a repeatable flag replaces the file's values
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) return fail(ErrorKind::InvalidArgument, "unexpected argument: {}", a);
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      inline_value = true;
    }
    if (name == "config") {  // read_config_file took it
      if (!inline_value && ++i >= args.size()) return fail(ErrorKind::InvalidArgument, "flag --config needs a value");
      continue;
    }
    const Setting* s = find_flag(name);
    if (s == nullptr) return fail(ErrorKind::InvalidArgument, "unknown flag: --{}", name);
    if (!inline_value) {
      bool next_is_boolean = i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false");
      if (s->kind == Kind::Boolean) value = next_is_boolean ? args[++i] : "true";  // a bare boolean is true
      else if (i + 1 < args.size()) value = args[++i];
      else return fail(ErrorKind::InvalidArgument, "flag --{} needs a value", name);
    }
    if (s->kind == Kind::Texts && repeated.insert(s).second) s->clear();
    DH_CHECK(with_context(s->set_text(value), "--{}", name));
  }
  return {};
}

Status DaemonSettings::load(const std::vector<std::string>& args, std::string& config_file, bool& help) const {
  DH_TRY(text, read_config_file(args, config_file));
  if (text) {
    DH_TRY(file, parse_toml(*text, config_file));
    DH_CHECK(apply_file(file, config_file));
  }
  return apply_flags(args, help);
}

}  // namespace deckhand
