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
  skopeo umoci           # building and pushing test images
  docker-registry apache2-utils openssl  # registry pull tests (htpasswd, certs)
  procps psmisc
)

missing=()
for p in "${build[@]}" "${runtime[@]}" "${tests[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all packages present"
  exit 0
fi

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
# Debian enables and starts these services on install; deckhand's tests start their own.
for svc in containerd docker-registry; do
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
echo "install-deps.sh: installed ${missing[*]}"
