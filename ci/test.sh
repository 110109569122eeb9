#!/usr/bin/env bash
# Quick start command 2: build hph and pass the tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/build.sh"
# The fuzz targets (clang, ASan+UBSan, libFuzzer) the test fuzz/short_runs runs.
"$root/fuzz/build.sh" >/dev/null
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
