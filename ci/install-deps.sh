#!/usr/bin/env bash
# Installs hph's build and test dependencies from Debian 12's packages. Idempotent: when
# everything is already installed it only checks and returns (well under a second).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libunicorn-dev libcapstone-dev libzydis-dev libzycore-dev liblief-dev
  libfmt-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libbenchmark-dev librapidcheck-dev libssl-dev
  # The corpus toolchain: tests use the checked-in images, and check that these rebuild
  # them byte for byte.
  clang-22 lld-22 llvm-22 python3
  # Real consumers of hph check's reports, run by the tests: JUnit through junitparser,
  # SARIF through Microsoft's SARIF multitool (from the npm registry, below).
  python3-junitparser
  # The CI examples (ci/examples/*.yml) are parsed as the engines read them: YAML.
  python3-yaml
  # The HTML report is checked as a browser renders it (tests/HtmlReportTest.cpp).
  chromium
  # The formatter the format check (ci/check-format.sh, a test) runs.
  clang-format-22
  # Google Benchmark's compare.py (/usr/share/benchmark/compare.py, run by the system
  # python, which needs scipy), for bench/README.md.
  libbenchmark-tools python3-scipy
  # The by-hand baseline the on-host benchmark compares applying with (bench/OnHostBench.cpp).
  gdb
  # The fuzz targets (fuzz/build.sh): clang-22's libFuzzer and sanitizer runtimes.
  libclang-rt-22-dev libfuzzer-22-dev
  # The aarch64 on-host runner: cross-built (host/CMakeLists.txt), run under qemu-aarch64.
  g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
)
# nodejs may come with its own npm (NodeSource): only ask Debian for npm when there is none.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The SARIF multitool (a pinned version) into the checkout's .cache; it runs offline.
root=$(cd "$(dirname "$0")/.." && pwd)
multitool=$root/.cache/sarif-multitool
if [ ! -x "$multitool/node_modules/.bin/sarif-multitool" ]; then
  echo "install-deps: installing @microsoft/sarif-multitool into $multitool" >&2
  mkdir -p "$multitool"
  npm install --silent --no-audit --no-fund --prefix "$multitool" @microsoft/sarif-multitool@5.7.0 >/dev/null
fi
# Newer npm versions skip install scripts; the one this package has only does this.
chmod u+x "$multitool"/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool 2>/dev/null || true
