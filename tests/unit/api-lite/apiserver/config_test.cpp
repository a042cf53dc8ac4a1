// deckhand-apiserver's settings, and those of its issue-cert command.
#include "deckhand/apiserver/config.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::apiserver;

TEST_CASE("apiserver config: flags over the file; issue-cert's own flags") {
  test::TempDir dir;
  std::string file = dir.sub("apiserver.toml");
  REQUIRE(fs::write_file_atomic(file, "port = 7443\ncert_host = [\"a.test\"]\nbookmark_interval_s = 5\n"));
  test::Argv args({"deckhand-apiserver", "--config", file, "--cert-host", "b.test", "--cert-host", "10.0.0.1",
                   "--insecure-http", "--max-body-bytes", "4096", "--data-dir", "/d"});
  auto c = load_config(args.argc(), args.argv());
  REQUIRE_MESSAGE(c, c.error().message);
  CHECK(c->options.port == 7443);
  CHECK(c->options.cert_hosts == std::vector<std::string>{"b.test", "10.0.0.1"});
  CHECK(c->options.bookmark_interval == std::chrono::seconds(5));
  CHECK(c->options.insecure_http);
  CHECK(c->options.max_body_bytes == 4096);
  CHECK(c->options.data_dir == "/d");
  CHECK_FALSE(c->issue_cert);

  test::Argv cert({"deckhand-apiserver", "issue-cert", "--config", file, "--user", "system:node:n1", "--group",
                   "system:nodes", "--out", "/o", "--pki-dir", "/p"});
  auto ic = load_config(cert.argc(), cert.argv());
  REQUIRE_MESSAGE(ic, ic.error().message);
  CHECK(ic->issue_cert);
  CHECK(ic->cert_user == "system:node:n1");
  CHECK(ic->cert_groups == std::vector<std::string>{"system:nodes"});
  CHECK(ic->cert_out_dir == "/o");
  CHECK(ic->options.pki_dir == "/p");

  test::Argv no_out({"deckhand-apiserver", "issue-cert", "--config", file, "--user", "u"});
  auto missing = load_config(no_out.argc(), no_out.argv());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "issue-cert needs --user NAME and --out DIR");
  test::Argv serve_with_user({"deckhand-apiserver", "--config", file, "--user", "u"});
  auto not_here = load_config(serve_with_user.argc(), serve_with_user.argv());
  REQUIRE_FALSE(not_here);
  CHECK(not_here.error().message == "unknown flag: --user");
  test::Argv bad_port({"deckhand-apiserver", "--config", file, "--port", "http"});
  auto port = load_config(bad_port.argc(), bad_port.argv());
  REQUIRE_FALSE(port);
  CHECK(port.error().message.find("--port") != std::string::npos);
}
