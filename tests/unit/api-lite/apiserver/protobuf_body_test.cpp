#include "protobuf_body.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

using namespace deckhand;
using deckhand::apiserver::decode_protobuf_object;

namespace {

// A minimal protobuf writer, enough to build bodies field by field.
struct Pb {
  std::string bytes;

  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      bytes += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    bytes += static_cast<char>(v);
  }
  void key(uint32_t field, uint32_t wire_type) { raw_varint(uint64_t{field} << 3 | wire_type); }

  Pb& varint(uint32_t field, uint64_t v) {
    key(field, 0);
    raw_varint(v);
    return *this;
  }
  // int32/int64 as Go writes them: negative numbers as 10-byte two's complement.
  Pb& integer(uint32_t field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
  Pb& str(uint32_t field, std::string_view s) {
    key(field, 2);
    raw_varint(s.size());
    bytes += s;
    return *this;
  }
  Pb& msg(uint32_t field, const Pb& m) { return str(field, m.bytes); }
  Pb& entry(uint32_t field, std::string_view k, std::string_view v) {
    return msg(field, Pb().str(1, k).str(2, v));
  }
  Pb& fixed32(uint32_t field) {
    key(field, 5);
    bytes += std::string(4, 'x');
    return *this;
  }
  Pb& fixed64(uint32_t field) {
    key(field, 1);
    bytes += std::string(8, 'y');
    return *this;
  }
};

const std::string kMagic("k8s\0", 4);

std::string envelope(std::string_view api_version, std::string_view kind, const Pb& raw) {
  return kMagic + Pb().msg(1, Pb().str(1, api_version).str(2, kind)).msg(2, raw).str(3, "").str(4, "").bytes;
}

Pb quantity(std::string_view q) { return Pb().str(1, q); }
Pb int_or_int(int32_t v) { return Pb().varint(1, 0).integer(2, v).str(3, ""); }
Pb int_or_string(std::string_view s) { return Pb().varint(1, 1).varint(2, 0).str(3, s); }

// ObjectMeta as kubectl's generators fill it: plain fields written even when empty.
Pb meta(std::string_view name) {
  return Pb().str(1, name).str(2, "").str(3, "").str(4, "").str(5, "").str(6, "").varint(7, 0).msg(8, Pb());
}

Json decoded(std::string_view body) {
  auto r = decode_protobuf_object(body);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return *r;
}

Json json(std::string_view text) {
  auto r = parse_json(text, "expected JSON");
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return *r;
}

std::string error_of(std::string_view body) {
  auto r = decode_protobuf_object(body);
  REQUIRE_MESSAGE(!r.has_value(), "decoded: " << r->dump());
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  return r.error().message;
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

}  // namespace

// Bodies kubectl 1.33.1 sent to a server that answered 415, with the JSON that
// `kubectl create ... --dry-run=client -o json` prints for the same command.
TEST_CASE("kubectl 1.33 bodies decode to the JSON kubectl would send") {
  struct Capture {
    const char* command;
    std::string_view hex;
    std::string_view expected;
  };
  const Capture captures[] = {
      {"create namespace capns",
       "6b3873000a0f0a02763112094e616d657370616365121d0a150a056361706e7312001a0022002a003200380042001200"
       "1a020a001a002200",
       R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"capns","creationTimestamp":null},
           "spec":{},"status":{}})"},
      {"create configmap cm1 --from-literal=a=b --from-literal=key2=value-two",
       "6b3873000a0f0a0276311209436f6e6669674d617012300a130a03636d3112001a0022002a0032003800420012060a01"
       "6112016212110a046b657932120976616c75652d74776f1a002200",
       R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm1","creationTimestamp":null},
           "data":{"a":"b","key2":"value-two"}})"},
      {"create secret generic s1 --from-literal=user=admin --from-literal=pw=p@ss",
       "6b3873000a0c0a027631120653656372657412310a120a02733112001a0022002a00320038004200120a0a0270771204"
       "70407373120d0a0475736572120561646d696e1a001a002200",
       R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1","creationTimestamp":null},
           "data":{"pw":"cEBzcw==","user":"YWRtaW4="}})"},
      {"create deployment web --image=nginx:1.25 --replicas=3 --port=8080",
       "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412be010a1f0a0377656212001a0022002a00320038"
       "0042005a0a0a036170701203776562128c010803120c0a0a0a0361707012037765621a720a1c0a0012001a0022002a00"
       "3200380042005a0a0a036170701203776562125212340a056e67696e78120a6e67696e783a312e32352a00320b0a0010"
       "0018903f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a0100"
       "9a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
       R"({"kind":"Deployment","apiVersion":"apps/v1",
           "metadata":{"name":"web","creationTimestamp":null,"labels":{"app":"web"}},
           "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
             "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},
               "spec":{"containers":[{"name":"nginx","image":"nginx:1.25","ports":[{"containerPort":8080}],
                                      "resources":{}}]}},
             "strategy":{}},
           "status":{}})"},
      {"create service clusterip svc1 --tcp=80:8080",
       "6b3873000a0d0a027631120753657276696365126c0a210a047376633112001a0022002a003200380042005a0b0a0361"
       "707012047376633112430a1b0a0738302d38303830120354435018502207080010903f1a002800120b0a036170701204"
       "737663311a002209436c757374657249503a00420052005a00600068001a020a001a002200",
       R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc1","creationTimestamp":null,
             "labels":{"app":"svc1"}},
           "spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],
             "selector":{"app":"svc1"},"type":"ClusterIP"},
           "status":{"loadBalancer":{}}})"},
      {"create serviceaccount sa1",
       "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042"
       "001a002200",
       R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa1","creationTimestamp":null}})"},
      {"create job j1 --image=busybox -- echo hi",
       "6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a0032003800420012643262"
       "0a100a0012001a0022002a00320038004200124e122b0a026a31120762757379626f781a046563686f1a0268692a0042"
       "006a007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c2"
       "01001a082000280030003a001a002200",
       R"({"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j1","creationTimestamp":null},
           "spec":{"template":{"metadata":{"creationTimestamp":null},
             "spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],
                     "restartPolicy":"Never"}}},
           "status":{}})"},
  };
  for (const auto& c : captures) {
    CAPTURE(c.command);
    CHECK(decoded(from_hex(c.hex)).dump() == json(c.expected).dump());
  }
}

TEST_CASE("Namespace: finalizers and phase; metadata fields and time") {
  Pb m = Pb().str(1, "ns1")
             .str(2, "gen-")
             .str(5, "uid-1")
             .str(6, "42")
             .integer(7, 3)
             .msg(8, Pb().integer(1, 1767323045))
             .msg(9, Pb().integer(1, 1767323045).integer(2, 999'999'999))
             .integer(10, 30)
             .entry(11, "a", "1")
             .entry(11, "b", "")
             .entry(12, "note", "x y")
             .msg(13, Pb().str(1, "Deployment")
                          .str(3, "web")
                          .str(4, "u2")
                          .str(5, "apps/v1")
                          .varint(6, 1)
                          .varint(7, 0))
             .str(14, "example.com/f");
  Pb ns = Pb().msg(1, m).msg(2, Pb().str(1, "kubernetes")).msg(3, Pb().str(1, "Active"));
  CHECK(decoded(envelope("v1", "Namespace", ns)) == json(R"({"apiVersion":"v1","kind":"Namespace",
      "metadata":{"name":"ns1","generateName":"gen-","uid":"uid-1","resourceVersion":"42","generation":3,
        "creationTimestamp":"2026-01-02T03:04:05Z","deletionTimestamp":"2026-01-02T03:04:05Z",
        "deletionGracePeriodSeconds":30,"labels":{"a":"1","b":""},"annotations":{"note":"x y"},
        "ownerReferences":[{"kind":"Deployment","name":"web","uid":"u2","apiVersion":"apps/v1",
                            "controller":true,"blockOwnerDeletion":false}],
        "finalizers":["example.com/f"]},
      "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})"));
}

TEST_CASE("Time: epoch, negative nanos, Go's zero time") {
  auto created = [](const Pb& t) {
    return decoded(envelope("v1", "Namespace", Pb().msg(1, Pb().msg(8, t))))["metadata"]["creationTimestamp"];
  };
  CHECK(created(Pb().integer(1, 0)) == "1970-01-01T00:00:00Z");
  CHECK(created(Pb().integer(1, 10).integer(2, -1)) == "1970-01-01T00:00:09Z");
  CHECK(created(Pb().integer(1, -62135596800)).is_null());
  CHECK(created(Pb()).is_null());
  CHECK(error_of(envelope("v1", "Namespace", Pb().msg(1, Pb().msg(8, Pb().integer(1, INT64_MAX)))))
            .find("years") != std::string::npos);
}

TEST_CASE("ConfigMap: data, binaryData as base64, immutable false kept") {
  Pb cm = Pb().msg(1, meta("cm"))
              .entry(2, "k", "v")
              .entry(3, "bin", std::string("\x00\xff\x10", 3))
              .entry(3, "two", "ab")
              .entry(3, "one", "a")
              .varint(4, 0);
  CHECK(decoded(envelope("v1", "ConfigMap", cm)) == json(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"cm","creationTimestamp":null},"data":{"k":"v"},
      "binaryData":{"bin":"AP8Q","two":"YWI=","one":"YQ=="},"immutable":false})"));
}

TEST_CASE("Secret: data, stringData, type, immutable") {
  Pb s = Pb().msg(1, meta("s"))
             .entry(2, "tls.key", "secret")
             .str(3, "kubernetes.io/tls")
             .entry(4, "plain", "text")
             .varint(5, 1);
  CHECK(decoded(envelope("v1", "Secret", s)) == json(R"({"apiVersion":"v1","kind":"Secret",
      "metadata":{"name":"s","creationTimestamp":null},"data":{"tls.key":"c2VjcmV0"},
      "type":"kubernetes.io/tls","stringData":{"plain":"text"},"immutable":true})"));
}

TEST_CASE("ServiceAccount: secrets, imagePullSecrets, automount") {
  Pb sa = Pb().msg(1, meta("sa"))
              .msg(2, Pb().str(1, "Secret").str(2, "ns").str(3, "tok").str(4, "").str(7, ""))
              .msg(3, Pb().str(1, "regcred"))
              .varint(4, 0);
  CHECK(decoded(envelope("v1", "ServiceAccount", sa)) == json(R"({"apiVersion":"v1","kind":"ServiceAccount",
      "metadata":{"name":"sa","creationTimestamp":null},
      "secrets":[{"kind":"Secret","namespace":"ns","name":"tok"}],"imagePullSecrets":[{"name":"regcred"}],
      "automountServiceAccountToken":false})"));
}

TEST_CASE("Service: every supported spec field") {
  Pb port = Pb().str(1, "http")
                .str(2, "TCP")
                .integer(3, 80)
                .msg(4, int_or_string("web"))
                .integer(5, 30080)
                .str(6, "http");
  Pb bare_port = Pb().str(1, "").str(2, "").integer(3, 0).msg(4, int_or_int(0)).integer(5, 0);
  Pb spec = Pb().msg(1, port)
                .msg(1, bare_port)
                .entry(2, "app", "web")
                .str(3, "10.96.0.20")
                .str(4, "NodePort")
                .str(5, "192.0.2.1")
                .str(7, "ClientIP")
                .str(10, "")
                .str(11, "")
                .integer(12, 0)
                .varint(13, 0)
                .str(17, "SingleStack")
                .str(18, "10.96.0.20")
                .str(19, "IPv4")
                .str(22, "Local");
  Pb svc = Pb().msg(1, meta("web")).msg(2, spec).msg(3, Pb().msg(1, Pb()));
  CHECK(decoded(envelope("v1", "Service", svc)) == json(R"({"apiVersion":"v1","kind":"Service",
      "metadata":{"name":"web","creationTimestamp":null},
      "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"web","nodePort":30080,
                        "appProtocol":"http"},
                       {"port":0,"targetPort":0}],
        "selector":{"app":"web"},"clusterIP":"10.96.0.20","type":"NodePort","externalIPs":["192.0.2.1"],
        "sessionAffinity":"ClientIP","ipFamilyPolicy":"SingleStack","clusterIPs":["10.96.0.20"],
        "ipFamilies":["IPv4"],"internalTrafficPolicy":"Local"},
      "status":{"loadBalancer":{}}})"));
  Pb external = Pb().msg(2, Pb().str(4, "ExternalName").str(10, "db.example.com"));
  CHECK(decoded(envelope("v1", "Service", external))["spec"] ==
        json(R"({"type":"ExternalName","externalName":"db.example.com"})"));
}

TEST_CASE("Deployment: spec, strategy, pod template with containers and volumes") {
  Pb container = Pb().str(1, "app")
                     .str(2, "registry.local/app:1")
                     .str(3, "/bin/app")
                     .str(4, "--port")
                     .str(4, "8080")
                     .str(5, "/srv")
                     .msg(6, Pb().str(1, "http").integer(2, 0).integer(3, 8080).str(4, "TCP").str(5, ""))
                     .msg(7, Pb().str(1, "MODE").str(2, "prod"))
                     .msg(7, Pb().str(1, "EMPTY").str(2, ""))
                     .msg(8, Pb().msg(1, Pb().str(1, "cpu").msg(2, quantity("500m")))
                                 .msg(2, Pb().str(1, "memory").msg(2, quantity("64Mi"))))
                     .msg(9, Pb().str(1, "data").varint(2, 1).str(3, "/data").str(4, "sub"))
                     .str(13, "/dev/termination-log")
                     .str(14, "IfNotPresent")
                     .varint(16, 0)
                     .str(20, "File");
  Pb init = Pb().str(1, "init").str(2, "busybox").str(3, "true").msg(8, Pb());
  Pb volumes =
      Pb().msg(1, Pb().str(1, "data").msg(2, Pb().msg(2, Pb().str(1, ""))))
          .msg(1, Pb().str(1, "host").msg(2, Pb().msg(1, Pb().str(1, "/var/log").str(2, "Directory"))))
          .msg(1, Pb().str(1, "cfg").msg(2, Pb().msg(19, Pb().msg(1, Pb().str(1, "app-config"))
                                                             .msg(2, Pb().str(1, "k").str(2, "k.conf"))
                                                             .integer(3, 0644))))
          .msg(1, Pb().str(1, "sec").msg(2, Pb().msg(6, Pb().str(1, "app-secret").integer(3, 0400))))
          .msg(1, Pb().str(1, "claim").msg(2, Pb().msg(10, Pb().str(1, "pvc1").varint(2, 0))))
          .msg(1, Pb().str(1, "scratch").msg(2, Pb().msg(2, Pb().str(1, "Memory").msg(2, quantity("1Gi")))));
  Pb pod_spec = volumes;
  pod_spec.msg(2, container)
      .str(3, "Always")
      .integer(4, 30)
      .str(6, "ClusterFirst")
      .entry(7, "disk", "ssd")
      .str(8, "runner")
      .str(10, "")
      .varint(11, 1)
      .str(19, "default-scheduler")
      .msg(20, init);
  Pb template_meta = Pb().entry(11, "app", "web").msg(8, Pb());
  Pb selector =
      Pb().entry(1, "app", "web").msg(2, Pb().str(1, "tier").str(2, "In").str(3, "fe").str(3, "be"));
  Pb strategy = Pb().str(1, "RollingUpdate").msg(2, Pb().msg(1, int_or_int(1)).msg(2, int_or_string("25%")));
  Pb spec = Pb().integer(1, 0)
                .msg(2, selector)
                .msg(3, Pb().msg(1, template_meta).msg(2, pod_spec))
                .msg(4, strategy)
                .integer(5, -5)
                .integer(6, 0)
                .varint(7, 1)
                .integer(9, 600);
  Pb status = Pb().integer(1, 7).integer(2, 3);
  Pb deployment = Pb().msg(1, meta("web")).msg(2, spec).msg(3, status);
  CHECK(decoded(envelope("apps/v1", "Deployment", deployment)) == json(R"({"apiVersion":"apps/v1",
    "kind":"Deployment","metadata":{"name":"web","creationTimestamp":null},
    "spec":{"replicas":0,
      "selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]}]},
      "template":{"metadata":{"labels":{"app":"web"},"creationTimestamp":null},"spec":{
        "volumes":[{"name":"data","emptyDir":{}},
                   {"name":"host","hostPath":{"path":"/var/log","type":"Directory"}},
                   {"name":"cfg","configMap":{"name":"app-config","items":[{"key":"k","path":"k.conf"}],
                                               "defaultMode":420}},
                   {"name":"sec","secret":{"secretName":"app-secret","defaultMode":256}},
                   {"name":"claim","persistentVolumeClaim":{"claimName":"pvc1"}},
                   {"name":"scratch","emptyDir":{"medium":"Memory","sizeLimit":"1Gi"}}],
        "containers":[{"name":"app","image":"registry.local/app:1","command":["/bin/app"],"args":["--port","8080"],
          "workingDir":"/srv","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
          "env":[{"name":"MODE","value":"prod"},{"name":"EMPTY"}],
          "resources":{"limits":{"cpu":"500m"},"requests":{"memory":"64Mi"}},
          "volumeMounts":[{"name":"data","readOnly":true,"mountPath":"/data","subPath":"sub"}],
          "terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent",
          "terminationMessagePolicy":"File"}],
        "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
        "nodeSelector":{"disk":"ssd"},"serviceAccountName":"runner","hostNetwork":true,
        "schedulerName":"default-scheduler",
        "initContainers":[{"name":"init","image":"busybox","command":["true"],"resources":{}}]}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":"25%"}},
      "minReadySeconds":-5,"revisionHistoryLimit":0,"paused":true,"progressDeadlineSeconds":600},
    "status":{}})"));
}

TEST_CASE("Job: parallelism, completions, backoffLimit, template") {
  Pb pod = Pb().msg(2, Pb().str(1, "c").str(2, "busybox")).str(3, "OnFailure");
  Pb spec = Pb().integer(1, 2).integer(2, 4).integer(7, 0).msg(6, Pb().msg(2, pod));
  CHECK(decoded(envelope("batch/v1", "Job", Pb().msg(1, meta("j")).msg(2, spec))) ==
        json(R"({"apiVersion":"batch/v1",
    "kind":"Job","metadata":{"name":"j","creationTimestamp":null},
    "spec":{"parallelism":2,"completions":4,"backoffLimit":0,
      "template":{"spec":{"containers":[{"name":"c","image":"busybox"}],"restartPolicy":"OnFailure"}}}})"));
}

TEST_CASE("wire rules: unknown fields skipped, last scalar wins, repeated messages merged, packed varints") {
  Pb m = Pb().str(1, "first")
             .varint(99, 7)
             .fixed32(98)
             .fixed64(97)
             .msg(96, Pb().str(1, "ignored"))
             .str(1, "second")
             .entry(11, "a", "1");
  Pb spec = Pb().integer(1, 2).msg(2, Pb().entry(1, "x", "1")).msg(2, Pb().entry(1, "y", "2")).integer(1, 5);
  Pb d = Pb().msg(1, m).msg(1, Pb().entry(11, "b", "2")).msg(2, spec).str(50, "future field");
  CHECK(decoded(envelope("apps/v1", "Deployment", d)) == json(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"second","labels":{"a":"1","b":"2"}},
      "spec":{"replicas":5,"selector":{"matchLabels":{"x":"1","y":"2"}}}})"));

  // A plain field set and then cleared ends up absent, as Go would leave it.
  CHECK_FALSE(decoded(envelope("v1", "Secret", Pb().str(3, "Opaque").str(3, ""))).contains("type"));
  // The Go int32 -1 on the wire is a 10-byte varint.
  CHECK(decoded(envelope("v1", "Service",
                         Pb().msg(2, Pb().msg(1, Pb().integer(3, -1)))))["spec"]["ports"][0]["port"] == -1);
  // An empty body object still carries the type.
  CHECK(decoded(envelope("v1", "ConfigMap", Pb())) == json(R"({"apiVersion":"v1","kind":"ConfigMap"})"));
}

TEST_CASE("unknown kinds are refused with a clear message") {
  std::string msg = error_of(envelope("v1", "Pod", Pb().msg(1, meta("p"))));
  CHECK(msg.find("protobuf bodies of kind Pod") != std::string::npos);
  CHECK(msg.find("send JSON") != std::string::npos);
  CHECK(error_of(envelope("apps/v1beta1", "Deployment", Pb())).find("not supported") != std::string::npos);
  CHECK(error_of(envelope("scheduling.k8s.io/v1", "PriorityClass", Pb())).find("PriorityClass") !=
        std::string::npos);
}

TEST_CASE("malformed envelopes and wire data are errors") {
  CHECK(error_of("").find("magic") != std::string::npos);
  CHECK(error_of("{\"kind\":\"Namespace\"}").find("magic") != std::string::npos);
  CHECK(error_of(std::string("k8s\x01", 4) + Pb().msg(1, Pb().str(2, "Namespace")).bytes).find("magic") !=
        std::string::npos);
  CHECK(error_of(kMagic).find("no kind") != std::string::npos);
  CHECK(error_of(kMagic + Pb().msg(1, Pb().str(1, "v1")).bytes).find("no kind") != std::string::npos);
  CHECK(error_of(kMagic + Pb().msg(1, Pb().str(1, "v1").str(2, "Namespace")).str(3, "gzip").bytes)
            .find("gzip") != std::string::npos);

  // The envelope's first field claims a length and the body ends.
  CHECK(error_of(kMagic + "\x0a").find("truncated varint") != std::string::npos);
  CHECK(error_of(kMagic + "\x12\x10" + "abc").find("runs past the end") != std::string::npos);
}

TEST_CASE("malformed objects are errors that name the field") {
  auto deployment_error = [](const std::string& raw) {
    return error_of(envelope("apps/v1", "Deployment", Pb{raw}));
  };
  // spec { replicas: <varint cut short> }
  CHECK(deployment_error("\x12\x02\x08\x80") ==
        "decode protobuf Deployment: spec: replicas: truncated varint at offset 2");
  CHECK(deployment_error("\x0a\x05"
                         "ab")
            .find("runs past the end") != std::string::npos);
  CHECK(deployment_error(std::string("\x28") + std::string(10, '\xff') + "\x01").find("varint") !=
        std::string::npos);
  CHECK(deployment_error(std::string("\x00\x00", 2)).find("invalid field number 0") != std::string::npos);
  CHECK(deployment_error("\x9b\x06").find("unsupported wire type 3") != std::string::npos);
  CHECK(deployment_error("\x08\x01").find("metadata: unexpected wire type 0") != std::string::npos);
  CHECK(deployment_error(Pb().msg(1, Pb().varint(1, 5)).bytes).find("metadata: name") != std::string::npos);
  CHECK(deployment_error(Pb().msg(2, Pb().str(1, "3")).bytes).find("spec: replicas") != std::string::npos);
  CHECK(deployment_error(Pb().msg(1, Pb().str(1, "\xff")).bytes).find("UTF-8") != std::string::npos);
  CHECK(deployment_error(Pb().msg(1, Pb().entry(11, "\xc3", "v")).bytes).find("UTF-8") != std::string::npos);
  CHECK(deployment_error(Pb().msg(1, Pb().entry(11, "k", "\xed\xa0\x80")).bytes).find("labels") !=
        std::string::npos);
  Pb bad_surge = Pb().msg(4, Pb().msg(2, Pb().msg(2, Pb().varint(1, 2))));
  CHECK(deployment_error(Pb().msg(2, bad_surge).bytes).find("IntOrString has unknown type 2") !=
        std::string::npos);
}

TEST_CASE("deep nesting in unknown fields is skipped without recursion") {
  std::string nested = "leaf";
  for (int i = 0; i < 5000; ++i) nested = Pb().str(99, nested).bytes;
  Json object = decoded(envelope("v1", "Namespace", Pb().msg(1, Pb{nested}.str(1, "deep")).str(77, nested)));
  CHECK(object["metadata"] == json(R"({"name":"deep"})"));
}

TEST_CASE("cut or corrupted real bodies never crash") {
  const std::string body = from_hex(
      "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412be010a1f0a0377656212001a0022002a00320038"
      "0042005a0a0a036170701203776562128c010803120c0a0a0a0361707012037765621a720a1c0a0012001a0022002a00"
      "3200380042005a0a0a036170701203776562125212340a056e67696e78120a6e67696e783a312e32352a00320b0a0010"
      "0018903f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a0100"
      "9a0100c2010022020a00280038001a0c0800100018002000280038001a002200");
  REQUIRE(decode_protobuf_object(body).has_value());
  int failures = 0;
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = decode_protobuf_object(body.substr(0, n));
    if (!r) {
      ++failures;
      CHECK(r.error().kind == ErrorKind::InvalidArgument);
    }
  }
  CHECK(failures > static_cast<int>(body.size()) / 2);  // most cuts land inside a length-delimited field
  std::mt19937 rng(20260102);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = body;
    for (int k = 0; k < 3; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
    auto r = decode_protobuf_object(mutated);
    if (r) {
      CHECK(r->is_object());
      CHECK_NOTHROW((void)r->dump());
    } else {
      CHECK(r.error().kind == ErrorKind::InvalidArgument);
    }
  }
}
