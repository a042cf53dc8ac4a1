#!/usr/bin/env bash
# Checks our .proto files against the wire facts in ../shared/spec.
# Skips (exit 77) where ../shared is absent: the project builds and tests without it.
set -u
src=${1:-$(dirname "$0")/..}
shared=$src/../shared
if [ ! -x "$shared/tools/proto-facts" ]; then
  echo "SKIP: $shared/tools/proto-facts not found (no ../shared beside the checkout)"
  exit 77
fi
"$shared/tools/proto-facts" check "$shared/spec/cri-runtime-v1.tsv" "$src/cri/api/runtime.proto" \
  --require-rpc RuntimeService/RunPodSandbox --require-rpc RuntimeService/CreateContainer \
  --require-rpc RuntimeService/ListContainerStats --require-rpc ImageService/PullImage \
  --require-rpc RuntimeService/ExecSync --require-rpc RuntimeService/ReopenContainerLog
