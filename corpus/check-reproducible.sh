#!/usr/bin/env bash
# Rebuilds the corpus into a scratch directory and compares it with the checked-in images.
# Exit 77 (a CTest skip) when the cross toolchain is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v clang-22 >/dev/null && command -v lld-link-22 >/dev/null || { echo "clang-22/lld-22 not installed: skipped"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$here/build.sh" "$out" >/dev/null
status=0
for image in "$here"/images/*.dll; do
  if ! cmp -s "$image" "$out/$(basename "$image")"; then
    echo "differs: $(basename "$image")"; status=1
  fi
done
[ "$(ls "$out" | wc -l)" = "$(ls "$here"/images/*.dll | wc -l)" ] || { echo "image count differs"; status=1; }
[ $status = 0 ] && echo "all $(ls "$out" | wc -l) images rebuilt byte for byte"
exit $status
