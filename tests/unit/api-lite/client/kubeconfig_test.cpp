// load_kubeconfig: the files deckhand-apiserver and kubectl write (YAML and
// JSON), context resolution, files relative to the kubeconfig, the YAML
// subset (quoting, comments, folded and block scalars) and its errors.
#include "deckhand/client/kubeconfig.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::client;
using deckhand::test::TempDir;

namespace {

// base64 of "CA PEM", "CERT PEM", "KEY PEM".
const char* kCaB64 = "Q0EgUEVN";
const char* kCertB64 = "Q0VSVCBQRU0=";
const char* kKeyB64 = "S0VZIFBFTQ==";

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.sub(name);
  REQUIRE(fs::write_file_atomic(path, text, 0600, fs::Durability::ProcessCrash));
  return path;
}

// The error message of loading text as a kubeconfig (the test fails if it loads).
std::string load_error(const TempDir& dir, const std::string& text, const std::string& context = "") {
  auto config = load_kubeconfig(write(dir, "bad.kubeconfig", text), context);
  REQUIRE_MESSAGE(!config, "loaded: " << config->server);
  return config.error().message;
}

// A user with only a token, as YAML text, so that tests can vary how the token is written.
std::string with_token(const std::string& token_yaml) {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
         "users:\n- name: u\n  user:\n    token: " +
         token_yaml +
         "\n"
         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
         "current-context: x\n";
}

std::string token_of(const TempDir& dir, const std::string& token_yaml) {
  auto config = load_kubeconfig(write(dir, "token.kubeconfig", with_token(token_yaml)));
  REQUIRE_MESSAGE(config, config.error().message);
  return config->token;
}

}  // namespace

TEST_CASE("the kubeconfig deckhand-apiserver writes") {
  TempDir dir("kubeconfig-test");
  // As api-lite/http make_kubeconfig writes it: JSON-quoted names, base64 data.
  std::string text =
      std::string("apiVersion: v1\nkind: Config\nclusters:\n- name: \"deckhand\"\n  cluster:\n") +
      "    server: \"https://127.0.0.1:6443\"\n    certificate-authority-data: " + kCaB64 + "\n" +
      "users:\n- name: \"admin\"\n  user:\n    client-certificate-data: " + kCertB64 + "\n" +
      "    client-key-data: " + kKeyB64 + "\n" +
      "contexts:\n- name: \"admin@deckhand\"\n  context:\n    cluster: \"deckhand\"\n" +
      "    user: \"admin\"\ncurrent-context: \"admin@deckhand\"\n";
  auto config = load_kubeconfig(write(dir, "admin.kubeconfig", text));
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->server == "https://127.0.0.1:6443");
  CHECK(config->ca_pem == "CA PEM");
  CHECK(config->cert_pem == "CERT PEM");
  CHECK(config->key_pem == "KEY PEM");
  CHECK(config->token.empty());
  CHECK_FALSE(config->insecure_skip_tls_verify);
  CHECK(config->default_namespace == "default");
}

TEST_CASE("a kubectl-written kubeconfig: files relative to its directory, named contexts, namespace") {
  TempDir dir("kubeconfig-test");
  REQUIRE(fs::make_dirs(dir.sub("pki")));
  write(dir, "pki/ca.crt", "CA FROM FILE");
  write(dir, "pki/u1.crt", "CERT FROM FILE");
  write(dir, "pki/u1.key", "KEY FROM FILE");
  // As `kubectl config set-cluster/set-credentials/set-context` leave it.
  std::string path = write(dir, "config", R"(apiVersion: v1
clusters:
- cluster:
    certificate-authority: pki/ca.crt
    server: https://10.0.0.1:6443
  name: c1
- cluster:
    insecure-skip-tls-verify: true
    server: https://10.0.0.2:6443/
  name: c2
contexts:
- context:
    cluster: c1
    namespace: kube-system
    user: u1
  name: ctx1
- context:
    cluster: c2
    user: tok:user
  name: my ctx
current-context: ctx1
kind: Config
preferences: {}
users:
- name: tok:user
  user:
    token: a b#c
- name: u1
  user:
    client-certificate: pki/u1.crt
    client-key: )" + dir.sub("pki/u1.key") + "\n");

  auto current = load_kubeconfig(path);
  REQUIRE_MESSAGE(current, current.error().message);
  CHECK(current->server == "https://10.0.0.1:6443");
  CHECK(current->ca_pem == "CA FROM FILE");
  CHECK(current->cert_pem == "CERT FROM FILE");
  CHECK(current->key_pem == "KEY FROM FILE");  // an absolute path works too
  CHECK(current->default_namespace == "kube-system");

  auto named = load_kubeconfig(path, "my ctx");
  REQUIRE_MESSAGE(named, named.error().message);
  CHECK(named->server == "https://10.0.0.2:6443");  // without the trailing slash
  CHECK(named->insecure_skip_tls_verify);
  CHECK(named->ca_pem.empty());
  CHECK(named->cert_pem.empty());
  CHECK(named->token == "a b#c");  // '#' without a space before it is no comment
  CHECK(named->default_namespace == "default");

  auto absent = load_kubeconfig(path, "nope");
  REQUIRE_FALSE(absent);
  CHECK(absent.error().kind == ErrorKind::NotFound);
  CHECK(absent.error().message == "context \"nope\" is not in " + path);
}

TEST_CASE("a JSON kubeconfig, as kubectl config view -o json writes it") {
  TempDir dir("kubeconfig-test");
  write(dir, "token", "s3cret\n");
  std::string path = write(dir, "config.json",
                           std::string(R"({
    "kind": "Config",
    "apiVersion": "v1",
    "preferences": {},
    "clusters": [
        {
            "name": "c",
            "cluster": {
                "server": "https://127.0.0.1:7443",
                "certificate-authority-data": ")") +
                               kCaB64 + R"("
            }
        }
    ],
    "users": [
        {
            "name": "u",
            "user": {
                "tokenFile": "token"
            }
        }
    ],
    "contexts": [
        {
            "name": "x",
            "context": {
                "cluster": "c",
                "user": "u",
                "namespace": "team"
            }
        }
    ],
    "current-context": "x"
})");
  auto config = load_kubeconfig(path);
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->server == "https://127.0.0.1:7443");
  CHECK(config->ca_pem == "CA PEM");
  CHECK(config->token == "s3cret");
  CHECK(config->default_namespace == "team");
}

TEST_CASE("missing pieces give errors that say what is missing") {
  TempDir dir("kubeconfig-test");
  CHECK(
      load_error(dir, "apiVersion: v1\nkind: Config\nclusters: null\ncontexts: null\ncurrent-context: \"\"\n")
          .find("has no current-context") != std::string::npos);
  CHECK(load_error(dir, "current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n")
            .find("context \"x\" names cluster \"c\", which is not in ") != std::string::npos);
  CHECK(load_error(dir, "current-context: x\ncontexts:\n- name: x\n  context:\n    user: u\n")
            .find("context \"x\" names no cluster") != std::string::npos);
  std::string base = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n";
  CHECK(load_error(dir, base + "clusters:\n- name: c\n  cluster: {}\n").find("cluster \"c\" has no server") !=
        std::string::npos);
  std::string cluster = "clusters:\n- name: c\n  cluster:\n    server: https://h\n";
  CHECK(load_error(dir, base + cluster).find("context \"x\" names user \"u\", which is not in") !=
        std::string::npos);
  CHECK(load_error(dir, base + cluster +
                            "users:\n- name: u\n  user:\n    client-certificate-data: " + kCertB64 + "\n")
            .find("user \"u\" has a client certificate but no client key") != std::string::npos);
  CHECK(load_error(dir, base + cluster + "users:\n- name: u\n  user:\n    client-certificate: nothere.crt\n" +
                            "    client-key: nothere.key\n")
            .find("client-certificate of user \"u\"") != std::string::npos);
  CHECK(load_error(dir, base + cluster + "users:\n- name: u\n  user:\n    client-key-data: '!!!'\n" +
                            "    client-certificate-data: " + kCertB64 + "\n")
            .find("client-key-data of user \"u\": invalid base64") != std::string::npos);
  auto plugin = load_kubeconfig(write(
      dir, "plugin.kubeconfig",
      base + cluster + "users:\n- name: u\n  user:\n    exec:\n      command: gke-gcloud-auth-plugin\n"));
  REQUIRE_FALSE(plugin);
  CHECK(plugin.error().kind == ErrorKind::Unimplemented);
  auto missing = load_kubeconfig(dir.sub("absent.kubeconfig"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::NotFound);
  CHECK(missing.error().message.find("absent.kubeconfig") != std::string::npos);
}

TEST_CASE("scalars: quoting, comments, and the folding kubectl does for long values") {
  TempDir dir("kubeconfig-test");
  CHECK(token_of(dir, "plain # a comment") == "plain");
  CHECK(token_of(dir, "'it''s #1: yes'") == "it's #1: yes");
  CHECK(token_of(dir, "'''quoted\"'") == "'quoted\"");
  CHECK(token_of(dir, "\"tab\\there \\\"q\\\" \\u00e9 \\x41\"") == "tab\there \"q\" \xc3\xa9 A");
  CHECK(token_of(dir, "\"true\"") == "true");
  CHECK(token_of(dir, "'  lead'") == "  lead");
  CHECK(token_of(dir, "é ü") == "é ü");
  CHECK(token_of(dir, "12345") == "12345");  // an unquoted number is still text here
  // yaml.v2 (kubectl) folds plain scalars with spaces at 80 columns.
  CHECK(token_of(dir, "aaaa bbbb cccc\n      dddd eeee") == "aaaa bbbb cccc dddd eeee");
  CHECK(token_of(dir, "'it''s aaaa\n      bbbb'") == "it's aaaa bbbb");
  CHECK(token_of(dir, "\"x  \n      y\\\n      z\"") == "x yz");
  CHECK(token_of(dir, "'a\n\n      b'") == "a\nb");
  // Values with line breaks become block scalars.
  CHECK(token_of(dir, "|-\n      line1\n      line2") == "line1\nline2");
  CHECK(token_of(dir, "|\n      line1\n\n      line2\n") == "line1\n\nline2\n");
  CHECK(token_of(dir, ">-\n      folded\n      text\n\n      para") == "folded text\npara");
  // Comments anywhere, blank lines, CRLF line ends, a document start marker.
  std::string text =
      "# a kubeconfig\r\n---\r\napiVersion: v1  # trailing\r\n\r\nclusters:   # the clusters\r\n"
      "  # indented comment\r\n- name: c\r\n  cluster:\r\n    server: \"https://h:2\"   # q\r\n"
      "contexts:\r\n-   name: x\r\n    context:\r\n      cluster: c\r\ncurrent-context: 'x'\r\n";
  auto config = load_kubeconfig(write(dir, "comments.kubeconfig", text));
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->server == "https://h:2");
  CHECK(config->token.empty());
}

TEST_CASE("YAML outside the subset is refused with its line") {
  TempDir dir("kubeconfig-test");
  std::string head = "apiVersion: v1\nkind: Config\n";
  auto at_line = [&](const std::string& text, int line, const std::string& problem) {
    std::string message = load_error(dir, text);
    std::string where = "bad.kubeconfig:" + std::to_string(line) + ": ";
    CHECK_MESSAGE(message.find(where) != std::string::npos, message);
    CHECK_MESSAGE(message.find(problem) != std::string::npos, message);
  };
  at_line(head + "clusters:\n- name: &anchor c\n", 4, "anchors, aliases, tags");
  at_line(head + "users: *ref\n", 3, "anchors, aliases, tags");
  at_line(head + "kind2: !!str x\n", 3, "anchors, aliases, tags");
  at_line(head + "clusters:\n- name: c\n  cluster:\n    server: x\n   extra: y\n", 7,
          "unexpected indentation");
  at_line(head + "clusters:\n  - name: c\n     server: x\n", 5, "mapping value is not allowed");
  at_line(head + "current-context: a: b\n", 3, "mapping value is not allowed");
  at_line(head + "clusters: [\n  {name: c}]\n", 3, "not closed on its line");
  at_line(head + "token: 'never closed\n", 3, "never closed");
  at_line(head + "\tkind: x\n", 3, "tabs");
  at_line(head + "kind: again\n", 3, "duplicate key");
  at_line(head + "? complex\n: value\n", 3, "complex keys");
  at_line(head + "---\nkind: Config\n", 3, "several documents");
  at_line(head + "just a line\n", 3, "expected \"key: value\"");
  at_line(head + "token: \"\\q\"\n", 3, "unknown escape");
  at_line(head + "x: {a: 1} tail\n", 3, "unexpected text after the value");
  // Top-level must be a mapping.
  CHECK(load_error(dir, "- a\n- b\n").find("a kubeconfig is a mapping") != std::string::npos);
}

TEST_CASE("flow collections on one line, nested sequences, null and empty values") {
  TempDir dir("kubeconfig-test");
  std::string text =
      R"(clusters: [{name: c, cluster: {server: "https://h:3", insecure-skip-tls-verify: true}}]
contexts:
- name: x
  context:
    cluster: c
    user:
    namespace: ~
extensions:
- - nested
  - seq
-
  name: odd
current-context: x
users: []
)";
  auto config = load_kubeconfig(write(dir, "flow.kubeconfig", text));
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->server == "https://h:3");
  CHECK(config->insecure_skip_tls_verify);
  CHECK(config->default_namespace == "default");
}

TEST_CASE("a file that starts with '{' but is no JSON is read as a one-line YAML flow mapping") {
  TempDir dir("kubeconfig-test");
  auto config = load_kubeconfig(write(dir, "oneline.kubeconfig",
                                      "{current-context: x, contexts: [{name: x, context: {cluster: c}}], "
                                      "clusters: [{name: c, cluster: {server: 'https://h:4'}}]}\n"));
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->server == "https://h:4");
  // Broken either way: the JSON parser's complaint is the one reported.
  CHECK(load_error(dir, "{\"a\": [1,\n").find("decode") != std::string::npos);
}
