#!/usr/bin/env bash
# Checks packaging/systemd: every unit is one systemd accepts without a word
# of complaint (systemd-analyze verify, with ExecStart pointed at the build),
# starts a daemon we build, and names the config file the daemon reads and
# `deckhand up` writes, and that file is one the daemon accepts. Skips (exit 77) without systemd-analyze.
set -u
src=$1 build=$2
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }
declare -A where=([deckhand-apiserver]=api-lite/apiserver [deckhand-scheduler]=api-lite/scheduler
                  [deckhand-controller-manager]=api-lite/controller-manager [deckhand-cri]=cri/server
                  [deckhand-agent]=agent)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
units=("$src"/packaging/systemd/*.service)
[ "${#units[@]}" -eq "${#where[@]}" ] || { echo "want ${#where[@]} units, found ${#units[@]}"; failed=1; }
for unit in "${units[@]}"; do
  name=$(basename "$unit" .service)
  dir=${where[$name]:-}
  if [ -z "$dir" ]; then echo "$unit: no daemon called $name"; failed=1; continue; fi
  exe=$build/$dir/$name
  grep -qx "ExecStart=/usr/local/bin/$name" "$unit" || { echo "$unit: ExecStart is not /usr/local/bin/$name"; failed=1; }
  sed "s|^ExecStart=/usr/local/bin/$name\$|ExecStart=$exe|" "$unit" >"$tmp/$name.service"
  config=/etc/deckhand/${name#deckhand-}.toml
  grep -q "$config" "$unit" || { echo "$unit: does not name $config"; failed=1; }
  "$exe" --help | grep -q "$config" || { echo "$name --help: its config file is not $config"; failed=1; }
  grep -q "write_config ${name#deckhand-} " "$src/packaging/deckhand" || { echo "packaging/deckhand writes no $config"; failed=1; }
done
# The config files `deckhand up` writes are ones the daemons accept (a
# daemon reads its file before it looks at --help).
etc=/etc/deckhand socket=/run/deckhand/cri.sock node=node1 kc=/etc/deckhand/agent/system-node-node1.kubeconfig
for name in "${!where[@]}"; do
  short=${name#deckhand-}
  body=$(awk -v n="$short" '$0 ~ "write_config " n " <<TOML" {on=1; next} on && /^TOML$/ {exit} on' "$src/packaging/deckhand")
  eval "cat <<TOML
$body
TOML" >"$tmp/$short.toml"
  if ! "$build/${where[$name]}/$name" --config "$tmp/$short.toml" --help >/dev/null 2>"$tmp/$short.err"; then
    echo "$name does not accept the $short.toml that deckhand up writes: $(cat "$tmp/$short.err")"
    failed=1
  fi
done
out=$(systemd-analyze verify --man=no "$tmp"/*.service 2>&1)
if [ $? -ne 0 ] || [ -n "$out" ]; then echo "systemd-analyze verify:"; echo "$out"; failed=1; fi
[ $failed -eq 0 ] && echo "OK: ${#units[@]} units"
exit $failed
