#!/usr/bin/env bash
# Installs every Debian 12 package deckhand needs to build, test and run.
# Idempotent and non-interactive: safe to run on a fresh machine and again later.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

build=(
  meson ninja-build g++ pkg-config
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libseccomp-dev libnl-3-dev libnl-route-3-dev libmnl-dev libsystemd-dev
  libspdlog-dev libfmt-dev doctest-dev nlohmann-json3-dev libtomlplusplus-dev
  libexpected-dev libarchive-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev
  libboost-dev
)
runtime=(
  runc crun busybox-static containernetworking-plugins iproute2 util-linux
  ca-certificates
)
tests=(
  python3-protobuf       # ../shared/tools/proto-facts
  containerd             # benchmark peer and compatibility checks
  etcd-server etcd-client  # benchmark peer of the apiserver's store
  skopeo umoci           # building and pushing test images
  docker-registry apache2-utils openssl  # registry pull tests (htpasswd, certs)
  procps psmisc
)

missing=()
for p in "${build[@]}" "${runtime[@]}" "${tests[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Debian's kubectl 1.20 (kubernetes-client) conflicts with the kubectl our
# machines have on /usr/bin/kubectl: the API tests run it from its own
# directory, unpacked from the package, never installed.
kubectl120_dir=/usr/local/lib/deckhand/kubectl-1.20
install_kubectl_120() {
  [ -x "$kubectl120_dir/usr/bin/kubectl" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt downloads as _apt
  (cd "$tmp" && apt-get download -q kubernetes-client </dev/null) &&
    mkdir -p "$kubectl120_dir" && dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$kubectl120_dir"
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

if [ ${#missing[@]} -eq 0 ]; then
  install_kubectl_120 || { apt-get update -q && install_kubectl_120; }
  echo "install-deps.sh: all packages present"
  exit 0
fi

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
# Debian enables and starts these services on install; deckhand's tests start their own.
for svc in containerd docker-registry etcd; do
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
install_kubectl_120
echo "install-deps.sh: installed ${missing[*]}"
