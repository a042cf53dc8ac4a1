#!/usr/bin/env bash
# Checks packaging/systemd: every unit is one systemd accepts without a word
# of complaint (systemd-analyze verify, with ExecStart pointed at the build),
# starts a daemon we build, and names the config file the daemon reads and
# `deckhand up` writes. Skips (exit 77) without systemd-analyze.
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
out=$(systemd-analyze verify --man=no "$tmp"/*.service 2>&1)
if [ $? -ne 0 ] || [ -n "$out" ]; then echo "systemd-analyze verify:"; echo "$out"; failed=1; fi
[ $failed -eq 0 ] && echo "OK: ${#units[@]} units"
exit $failed
