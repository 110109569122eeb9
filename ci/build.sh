#!/usr/bin/env bash
# Installs what is missing, configures and builds hph (Release-with-debug-info) in build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Two cores on CI machines: more jobs only thrash.
cmake --build "$root/build" -j "$(nproc)"
