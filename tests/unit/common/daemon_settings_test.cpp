#include "deckhand/common/daemon_settings.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/toml_config.h"
#include "test_env.h"

using namespace deckhand;

namespace {

struct Example {
  std::string name = "default";
  std::vector<std::string> hosts;
  bool elect = true;
  int port = 80;
  std::chrono::milliseconds period{1000};
  std::string pair;
  std::string cni_dir;
  std::string config_file = "/nonexistent/example.toml";
  bool help = false;
};

DaemonSettings settings_of(Example& e) {
  DaemonSettings s;
  s.text("name", e.name)
      .texts("host", e.hosts)
      .boolean("leader-elect", e.elect)
      .integer("port", 0, 65535, e.port)
      .milliseconds("period-ms", 1, e.period)
      .parsed("pair",
              [&e](const std::string& v) -> Status {
                if (v.find('=') == std::string::npos)
                  return fail(ErrorKind::InvalidArgument, "want KEY=VALUE, got '{}'", v);
                e.pair = v;
                return {};
              })
      .table("cni", [&e](const toml::table& t, const std::string& origin) {
        return read_toml_string(t, "conf_dir", e.cni_dir, origin);
      });
  return s;
}

Status flags(Example& e, const std::vector<std::string>& args) {
  return settings_of(e).apply_flags(args, e.help);
}

Status file(Example& e, const std::string& text) {
  auto t = parse_toml(text, "x.toml");
  if (!t) return tl::unexpected(t.error());
  return settings_of(e).apply_file(*t, "x.toml");
}

std::string error_of(const Status& s) { return s ? "" : s.error().message; }

}  // namespace

TEST_CASE("flags: both forms, bare booleans, repeats, help") {
  Example e;
  auto st = flags(e, {"--name", "n1", "--port=8080", "--leader-elect", "--host", "a", "--host=b", "--period-ms", "5",
                      "--pair", "k=v", "-h"});
  REQUIRE_MESSAGE(st, error_of(st));
  CHECK(e.name == "n1");
  CHECK(e.port == 8080);
  CHECK(e.elect);
  CHECK(e.hosts == std::vector<std::string>{"a", "b"});
  CHECK(e.period == std::chrono::milliseconds(5));
  CHECK(e.pair == "k=v");
  CHECK(e.help);

  Example f;
  REQUIRE(flags(f, {"--leader-elect", "false", "--name", "x"}));
  CHECK_FALSE(f.elect);
  CHECK(f.name == "x");
  REQUIRE(flags(f, {"--leader-elect=true"}));
  CHECK(f.elect);
  REQUIRE(flags(f, {"--config", "/somewhere.toml", "--config=/else.toml", "--port", "1"}));  // read by load()
  CHECK(f.port == 1);
}

TEST_CASE("flags: errors name the flag and what was wanted") {
  Example e;
  CHECK(error_of(flags(e, {"--frobnicate", "1"})) == "unknown flag: --frobnicate");
  CHECK(error_of(flags(e, {"--name"})) == "flag --name needs a value");
  CHECK(error_of(flags(e, {"--config"})) == "flag --config needs a value");
  CHECK(error_of(flags(e, {"stray"})) == "unexpected argument: stray");
  CHECK(error_of(flags(e, {"--port", "65536"})).find("--port") != std::string::npos);
  CHECK(error_of(flags(e, {"--port", "65536"})).find("from 0 to 65535, got '65536'") != std::string::npos);
  CHECK(error_of(flags(e, {"--port", "12x"})).find("got '12x'") != std::string::npos);
  CHECK(error_of(flags(e, {"--period-ms", "0"})).find("--period-ms") != std::string::npos);
  CHECK(error_of(flags(e, {"--leader-elect=maybe"})).find("want true or false") != std::string::npos);
  auto bad_pair = error_of(flags(e, {"--pair", "nope"}));
  CHECK(bad_pair.find("--pair") != std::string::npos);
  CHECK(bad_pair.find("want KEY=VALUE") != std::string::npos);
  CHECK(e.port == 80);  // nothing set by the failures above
}

TEST_CASE("config file: keys with '_', types checked, tables handed over") {
  Example e;
  auto st = file(e, R"(
name = "from-file"
host = ["a", "b"]
leader_elect = false
port = 443
period_ms = 250
pair = "a=b"
[cni]
conf_dir = "/etc/cni/x"
)");
  REQUIRE_MESSAGE(st, error_of(st));
  CHECK(e.name == "from-file");
  CHECK(e.hosts == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(e.elect);
  CHECK(e.port == 443);
  CHECK(e.period == std::chrono::milliseconds(250));
  CHECK(e.pair == "a=b");
  CHECK(e.cni_dir == "/etc/cni/x");

  CHECK(error_of(file(e, "nonsense = 1\n")) == "x.toml: unknown key 'nonsense'");
  CHECK(error_of(file(e, "name = 3\n")) == "x.toml: key 'name' must be a string");
  CHECK(error_of(file(e, "port = \"80\"\n")) == "x.toml: key 'port' must be an integer from 0 to 65535");
  CHECK(error_of(file(e, "port = 70000\n")) == "x.toml: key 'port' must be an integer from 0 to 65535");
  CHECK(error_of(file(e, "leader_elect = \"yes\"\n")) == "x.toml: key 'leader_elect' must be true or false");
  CHECK(error_of(file(e, "host = \"a\"\n")) == "x.toml: key 'host' must be an array of strings");
  CHECK(error_of(file(e, "cni = 1\n")) == "x.toml: key 'cni' must be a table");
  CHECK(error_of(file(e, "pair = \"nope\"\n")).find("x.toml: key 'pair'") != std::string::npos);
  CHECK(error_of(file(e, "[cni]\nconf_dir = 1\n")).find("conf_dir") != std::string::npos);
}

TEST_CASE("load: the file first, then flags over it") {
  test::TempDir dir;
  std::string path = dir.sub("example.toml");
  REQUIRE(fs::write_file_atomic(path, "name = \"file\"\nport = 1\nhost = [\"f\"]\n"));

  Example e;
  auto st = settings_of(e).load({"--config", path, "--port", "2", "--host", "g"}, e.config_file, e.help);
  REQUIRE_MESSAGE(st, error_of(st));
  CHECK(e.config_file == path);
  CHECK(e.name == "file");
  CHECK(e.port == 2);                                     // the flag wins
  CHECK(e.hosts == std::vector<std::string>{"g"});        // flags replace the file's list

  Example absent;  // the default file need not exist
  REQUIRE(settings_of(absent).load({"--port", "3"}, absent.config_file, absent.help));
  CHECK(absent.port == 3);

  Example named;  // one that --config names must
  auto missing = settings_of(named).load({"--config=/nonexistent/x.toml"}, named.config_file, named.help);
  REQUIRE_FALSE(missing);
  CHECK(error_of(missing).find("/nonexistent/x.toml") != std::string::npos);

  REQUIRE(fs::write_file_atomic(path, "name = \n"));
  Example broken;
  auto parse_error = settings_of(broken).load({"--config", path}, broken.config_file, broken.help);
  REQUIRE_FALSE(parse_error);
  CHECK(error_of(parse_error).find("line 1") != std::string::npos);
}
