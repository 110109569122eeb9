#!/usr/bin/env bash
# Rebuilds the corpus into scratch directories and compares every image with the
# checked-in one, byte for byte: once as it is, then under perturbations that must not
# matter. The build must not depend on where the checkout or the scratch directory lies
# (path lengths shift the compiler's heap layout), on the environment's size, or on
# allocator settings. (clang-22's own secure-hotpatch __ref_ cells were laid out by heap
# addresses: the scratch-path perturbations moved them; see build.sh.)
# Exit 77 (a CTest skip) when the cross toolchain is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v clang-22 >/dev/null && command -v lld-link-22 >/dev/null || { echo "clang-22/lld-22 not installed: skipped"; exit 77; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0

# compare LABEL DIR: DIR holds exactly the checked-in images, byte for byte.
compare() {
  local label=$1 dir=$2 image count=0
  for image in "$here"/images/*.dll; do
    count=$((count + 1))
    if ! cmp -s "$image" "$dir/$(basename "$image")"; then
      echo "differs ($label): $(basename "$image")"; status=1
    fi
  done
  [ "$(ls "$dir" | wc -l)" = "$count" ] || { echo "image count differs ($label): $(ls "$dir" | wc -l), not $count"; status=1; }
}

"$here/build.sh" "$scratch/plain" >/dev/null
compare "rebuilt" "$scratch/plain"

# perturbed N: build.sh and src/ copied to a directory N characters deeper, the scratch
# directory (TMPDIR) there too, the environment padded by 64*N bytes, and glibc malloc
# settings varied (build.sh must not let them reach the tools).
perturbed() {
  local n=$1 dir pad
  dir=$scratch/$(printf 'p%.0s' $(seq 1 "$n"))
  pad=$(printf 'x%.0s' $(seq 1 $((64 * n))))
  mkdir -p "$dir/corpus" "$dir/tmp"
  cp -r "$here/build.sh" "$here/src" "$dir/corpus/"
  env TMPDIR="$dir/tmp" HPH_ENVIRONMENT_PADDING="$pad" MALLOC_PERTURB_=$((n % 255 + 1)) \
      GLIBC_TUNABLES=glibc.malloc.mmap_threshold=$((4096 * n)) \
      "$dir/corpus/build.sh" "$scratch/perturbed-$n" >/dev/null
  compare "path +$n, environment +$((64 * n)) bytes, malloc tunables" "$scratch/perturbed-$n"
}
perturbed 7
perturbed 45

[ $status = 0 ] && echo "all $(ls "$here"/images/*.dll | wc -l) images rebuilt byte for byte, also under 2 perturbations"
exit $status
