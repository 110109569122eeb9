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
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
