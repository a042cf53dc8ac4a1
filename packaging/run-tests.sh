#!/usr/bin/env bash
# Runs every deckhand test: installs dependencies, builds once with
# AddressSanitizer + UBSan and warnings as errors, runs unit and integration
# tests in parallel, and ends with one line "N passed, N failed, N skipped".
# Usage: packaging/run-tests.sh [extra meson test args]   (as root, for the integration tests)
set -uo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh || { echo "run-tests: installing dependencies failed" >&2; exit 1; }

build=${DECKHAND_TEST_BUILD:-build-test}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=debug -Db_sanitize=address,undefined -Dwerror=true \
    || { echo "run-tests: meson setup failed" >&2; exit 1; }
fi
ninja -C "$build" || { echo "run-tests: build failed"; echo "0 passed, 1 failed"; exit 1; }

jobs=$(nproc)
meson test -C "$build" --num-processes "$jobs" --print-errorlogs "$@"
status=$?

# meson's summary is not a format CI reads: count results from its JSON log.
/usr/bin/python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
except FileNotFoundError:
    counts["failed"] += 1
print(f'{counts["passed"]} passed, {counts["failed"]} failed, {counts["skipped"]} skipped')
PY
exit $status
