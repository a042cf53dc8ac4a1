// The deckhandctl commands over a CriClient. Each returns the process exit
// code, or an Error whose message says what failed ("stop container ab12:
// StopContainer: NotFound: ..."); output goes to io.out / io.err.
#pragma once

#include "deckhand/common/json.h"
#include "deckhand/cri/client.h"
#include "deckhand/ctl/cli.h"

namespace deckhand::ctl {

using cri::CriClient;
using CommandFn = Result<int> (*)(CriClient&, const CommandArgs&, Io&);

Result<int> cmd_version(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_info(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_pods(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_ps(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_images(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_inspect(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_inspectp(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_inspecti(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_logs(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_exec(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_runp(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_create(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_start(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_stop(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_rm(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_stopp(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_rmp(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_pull(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_rmi(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_import(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_stats(CriClient& c, const CommandArgs& a, Io& io);
Result<int> cmd_statsp(CriClient& c, const CommandArgs& a, Io& io);

// crictl's JSON config files: protobuf JSON, with proto field names
// ("log_directory") or lowerCamel ones ("logDirectory"). Env values in
// container configs are plain strings as crictl writes them (our proto has
// them as bytes, which protobuf JSON would want in base64).
Result<::runtime::v1::PodSandboxConfig> read_pod_config(const std::string& path);
Result<::runtime::v1::ContainerConfig> read_container_config(const std::string& path);

// A message as crictl shows it: protobuf JSON, lowerCamel names, defaults included.
Result<Json> message_to_json(const google::protobuf::Message& m);

}  // namespace deckhand::ctl
