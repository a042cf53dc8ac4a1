// A daemon's settings, each declared once with where its value goes: it is
// then both the flag "--name" and the config file key "name" with '_' for
// '-'. load() reads the config file (the one --config names, else the
// default if it exists) and then the flags, which override it. Flags take
// "--name value" or "--name=value"; a boolean may stand alone. Every error
// names the flag, or the file and its key, and what was wanted.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "deckhand/common/result.h"

namespace deckhand {

class DaemonSettings {
 public:
  // Text the daemon parses itself; errors come back with the setting's name.
  using Parse = std::function<Status(const std::string& value)>;
  // A table of the config file that has no flag (e.g. [cni]); origin names the file.
  using ReadTable = std::function<Status(const toml::table& table, const std::string& origin)>;

  DaemonSettings& text(const std::string& name, std::string& dst);
  // Repeatable: each flag adds one value; in the file, an array of strings.
  // The file's list replaces the default, and flags replace both.
  DaemonSettings& texts(const std::string& name, std::vector<std::string>& dst);
  DaemonSettings& boolean(const std::string& name, bool& dst);
  DaemonSettings& integer(const std::string& name, int64_t min, int64_t max, std::function<void(int64_t)> set);
  template <class Int>
  DaemonSettings& integer(const std::string& name, int64_t min, int64_t max, Int& dst) {
    return integer(name, min, max, [&dst](int64_t v) { dst = static_cast<Int>(v); });
  }
  DaemonSettings& milliseconds(const std::string& name, int64_t min, std::chrono::milliseconds& dst);
  // In the file a string, or an integer passed on as its decimal text.
  DaemonSettings& parsed(const std::string& name, Parse parse);
  // A key of the file only: a table the daemon reads. It may share its key
  // with another setting, which then takes the key's other forms.
  DaemonSettings& table(const std::string& key, ReadTable read);

  // Applies the file's keys: an unknown key, or one of the wrong type, is an error.
  Status apply_file(const toml::table& file, const std::string& origin) const;
  // Applies the flags after the program name; "-h"/"--help" sets help. --config is skipped.
  Status apply_flags(const std::vector<std::string>& args, bool& help) const;
  // The file (config_file is the default, and is set to the file read) and then args.
  Status load(const std::vector<std::string>& args, std::string& config_file, bool& help) const;

 private:
  enum class Kind { Text, Texts, Boolean, Integer, Parsed, Table };
  struct Setting {
    std::string name;  // the flag without "--"
    Kind kind;
    int64_t min = 0, max = 0;
    std::function<Status(const std::string&)> set_text;  // Text, Texts, Boolean, Integer, Parsed
    ReadTable read_table;                                  // Table
    std::function<void()> clear;                           // Texts: before the file's or the first flag's
  };

  const Setting* find_flag(const std::string& name) const;
  Status apply_key(const Setting& s, const toml::node& value, const std::string& origin) const;
  DaemonSettings& add(Setting s);

  std::vector<Setting> settings_;
};

}  // namespace deckhand
