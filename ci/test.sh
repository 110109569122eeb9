#!/usr/bin/env bash
# Quick start command 2: build hph and pass the tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
