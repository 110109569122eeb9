#!/usr/bin/env bash
# Rebuilds the checked-in corpus images from corpus/src, byte for byte.
#
# The images in corpus/images are what the tests use, so the tests pass without a
# cross toolchain. This script is how they were made: run it with the toolchain named
# below and `git diff --stat corpus/images` stays empty. With another clang-22 it still
# builds, but says so, because codegen may differ.
#
# usage: corpus/build.sh [OUTPUT_DIR]     (default: corpus/images)
set -euo pipefail

EXPECTED_CLANG="Debian clang version 22.1.8 (1~deb12u1)"
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/images}" && cd "${1:-$here/images}" && pwd)

for tool in clang-22 lld-link-22 llvm-dlltool-22 llvm-readobj-22 llvm-objdump-22; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (apt-get install clang-22 lld-22 llvm-22)" >&2; exit 2; }
done
actual=$(clang-22 --version | head -n 1)
if [ "$actual" != "$EXPECTED_CLANG" ]; then
  echo "build.sh: warning: installed '$actual' differs from '$EXPECTED_CLANG';" \
       "images may not match the checked-in ones byte for byte" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Compile from inside src/ with relative paths, so no path reaches an object, and run the
# tools in a minimal environment, so no variable they read changes their output (clang:
# CPATH, C_INCLUDE_PATH, CCC_OVERRIDE_OPTIONS, ...; lld-link: LINK, _LINK_, LIB).
# The output does not depend on the checkout's or the scratch directory's path, on the
# environment's size or on allocator settings: check-reproducible.sh rebuilds under such
# perturbations and compares.
cd "$here/src"
for tool in clang-22 lld-link-22 llvm-dlltool-22 llvm-readobj-22 llvm-objdump-22; do
  eval "$tool() { env -i PATH=/usr/bin:/bin LC_ALL=C $tool \"\$@\"; }"
done

# The patch sources declare their __ref_ cells (CORPUS_HOTPATCH_REF, src/corpus.h)
# instead of compiling with -fms-secure-hotpatch-functions-list. With that option clang-22
# creates the cells itself (upstream WindowsSecureHotPatching.cpp creates them while
# iterating a SmallDenseMap keyed by GlobalVariable pointers), and their order followed
# the compiler's heap layout: rebuilding with a scratch directory of another length, or
# with other glibc malloc tunables, moved the cells in .rdata and reordered the loads in
# bump_v2, so up to five of the six counter_patch*/counter_hotpatch* images came out
# different (measured with clang 22.1.8; git log has the commands). Declared cells are
# laid out by the source.
# hot_patched OBJ FUNCTION...: what the option guaranteed, each FUNCTION reaches globals
# only through __ref_ cells: every relocation in its code names one, and there is one.
hot_patched() {
  local obj=$1 function relocs bad; shift
  for function in "$@"; do
    relocs=$(llvm-objdump-22 -dr --disassemble-symbols="$function" "$obj" | awk '/IMAGE_REL_/ { print $NF }' | sort -u)
    bad=$(grep -v '^__ref_' <<<"$relocs" | paste -sd ' ' || true)
    [ -z "$bad" ] || { echo "build.sh: $function in $(basename "$obj") uses $bad directly (use CORPUS_REF)" >&2; exit 1; }
    grep -q '^__ref_' <<<"$relocs" || { echo "build.sh: $function in $(basename "$obj") uses no __ref_ cell" >&2; exit 1; }
  done
}

# Flags shared by every image: freestanding, one section per function (so the linker
# places and pads each function), unwind tables (.pdata for non-leaf functions, as MSVC).
common=(-O2 -ffreestanding -ffunction-sections -fasynchronous-unwind-tables
        -fno-stack-protector -fno-ident)
# /functionpadmin leaves room before each function for the hotpatch jump; /release
# writes a real PE checksum (base-identity checks compare it); /Brepro derives the
# timestamp from the content, so rebuilds are identical.
link_common=(/nodefaultlib /noentry /dll /opt:noicf /opt:ref /Brepro /release)

# A hotpatch image's load config and patch table (docs/patches.md), as assembly: the
# patch's own RVAs are `.rva` relocations, the base's come from the built base image.
# hotpatch_table ARCH BASE_DLL SEQUENCE OVER "FUNCTION|ABSOLUTE source base_export" ...
hotpatch_table() {
  local arch=$1 base=$2 sequence=$3 over=$4; shift 4
  local headers stamp checksum
  headers=$(llvm-readobj-22 --file-headers --coff-exports "$base")
  stamp=$(sed -n 's/^ *TimeDateStamp: .*(\(0x[0-9A-F]*\))$/\1/p' <<<"$headers" | head -n 1)
  checksum=$(sed -n 's/^ *CheckSum: \(0x[0-9A-F]*\)$/\1/p' <<<"$headers" | head -n 1)
  rva_of() { awk -v n="$1" '$1 == "Name:" { name = $2 } $1 == "RVA:" && name == n { print $2; exit }' <<<"$headers"; }
  echo "  .section .rdata,\"dr\""
  echo "  .p2align 3"
  echo "  .globl _load_config_used"
  echo "_load_config_used:"
  echo "  .long 0x140"
  echo "  .zero 0xF0 - 4"
  echo "  .rva hotpatch_info        /* HotPatchTableOffset */"
  echo "  .zero 0x140 - 0xF4"
  echo "hotpatch_info:             /* IMAGE_HOT_PATCH_INFO */"
  echo "  .long 3, 28, $sequence    /* Version, Size, SequenceNumber */"
  echo "  .rva hotpatch_base_list   /* BaseImageList */"
  echo "  .long 1, 0, 0             /* BaseImageCount, BufferOffset, ExtraPatchSize */"
  echo "hotpatch_base_list:"
  echo "  .rva hotpatch_base"
  echo "hotpatch_base:             /* IMAGE_HOT_PATCH_BASE */"
  echo "  .long $over, 0, $stamp, $checksum, 0, 0   /* SequenceNumber (applies over), Flags, base identity, CI */"
  echo "  .rva hotpatch_table       /* PatchTable */"
  echo "  .long 0                   /* BufferOffset */"
  echo "hotpatch_table:"
  echo "  .long $#                  /* entries */"
  local entry kind source target rva
  for entry in "$@"; do
    read -r kind source target <<<"$entry"
    rva=$(rva_of "$target")
    [ -n "$rva" ] || { echo "build.sh: $base exports no $target" >&2; exit 1; }
    case $kind in FUNCTION) kind=0x1C000 ;; ABSOLUTE) kind=0x2C000 ;; esac
    echo "  .long $kind"
    echo "  .rva $source"
    echo "  .long $rva               /* $target */"
  done
}

build() { # build ARCH NAME [extra clang flags] -- [extra link flags] [-- hot-patched functions]
  local arch=$1 name=$2; shift 2
  local cflags=() lflags=() patched=() target machine dllmachine
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cflags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do lflags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  patched=("$@")
  case $arch in
    x64)   target=x86_64-pc-windows-msvc;  machine=x64;   dllmachine=i386:x86-64 ;;
    arm64) target=aarch64-pc-windows-msvc; machine=arm64; dllmachine=arm64 ;;
  esac
  local src=${name%%.*}.c
  [ "$name" = counter_hotpatch ] && src=counter_patch.c  # the same patch code, with its table
  clang-22 --target=$target "${common[@]}" "${cflags[@]}" -c "$src" -o "$work/$name.$arch.obj"
  [ ${#patched[@]} = 0 ] || hot_patched "$work/$name.$arch.obj" "${patched[@]}"
  # A hotpatch image brings its own load config (with the table) as NAME.ARCH.table.s.
  local loadconfig=loadconfig.c
  [ -f "$work/$name.$arch.table.s" ] && loadconfig=$work/$name.$arch.table.s
  if [ "$loadconfig" = loadconfig.c ]; then
    clang-22 --target=$target "${common[@]}" -c "$loadconfig" -o "$work/loadconfig.$arch.obj"
  else
    clang-22 --target=$target -c "$loadconfig" -o "$work/loadconfig.$arch.obj"
  fi
  llvm-dlltool-22 -m $dllmachine -d kernel32.def -l "$work/kernel32.$arch.lib"
  lld-link-22 "${link_common[@]}" /machine:$machine "${lflags[@]}" \
    "$work/$name.$arch.obj" "$work/loadconfig.$arch.obj" "$work/kernel32.$arch.lib" /out:"$out/$name.$arch.dll" \
    /implib:"$work/$name.$arch.lib"
  echo "built $(basename "$out")/$name.$arch.dll"
}

for arch in x64 arm64; do
  hotpatch=(); [ $arch = x64 ] && hotpatch=(-fms-hotpatch)
  for name in basics counter faults imports race threads workload rmw account account_patch; do
    build $arch $name "${hotpatch[@]}" -- /functionpadmin:16
  done
done
# Hotpatch images: bump_v2's globals through __ref_ cells (declared in the source); the
# cells are exported so the harness can point them at the base image's globals.
for arch in x64 arm64; do
  hotpatch=(); [ $arch = x64 ] && hotpatch=(-fms-hotpatch)
  build $arch counter_patch "${hotpatch[@]}" -- \
    /functionpadmin:16 /export:__ref_g_counter /export:__ref_g_keyed -- bump_v2 bump_keyed_v2
done
# Patches whose replacements call kernel32 through their import tables (the on-host
# runner's native shims; counter_spawning starts a thread per call). Not checked by hot_patched: its import calls are relocations
# too; its one global goes through a __ref_ cell all the same.
for arch in x64 arm64; do
  hotpatch=(); [ $arch = x64 ] && hotpatch=(-fms-hotpatch)
  build $arch counter_shimmed "${hotpatch[@]}" -- /functionpadmin:16 /export:__ref_g_counter
  build $arch counter_spawning "${hotpatch[@]}" -- /functionpadmin:16 /export:__ref_g_counter
done
# Hotpatch packages: the same patch code carrying its own table (base identity, sequence
# number, FUNCTION and ABSOLUTE chunks), and a second patch of the series over the first.
for arch in x64 arm64; do
  hotpatch=(); [ $arch = x64 ] && hotpatch=(-fms-hotpatch)
  hotpatch_table $arch "$out/counter.$arch.dll" 1 0 "FUNCTION bump_v2 bump" "FUNCTION bump_keyed_v2 bump_keyed" \
    "ABSOLUTE __ref_g_counter g_counter" "ABSOLUTE __ref_g_keyed g_keyed" > "$work/counter_hotpatch.$arch.table.s"
  build $arch counter_hotpatch "${hotpatch[@]}" -- /functionpadmin:16 -- bump_v2 bump_keyed_v2
  hotpatch_table $arch "$out/counter.$arch.dll" 2 1 "FUNCTION bump_v3 bump" \
    "ABSOLUTE __ref_g_counter g_counter" > "$work/counter_patch2.$arch.table.s"
  build $arch counter_patch2 "${hotpatch[@]}" -- /functionpadmin:16 -- bump_v3
done
# A hybrid image (docs/design.md, CHPE): hybrid.c as Arm64EC code and hybrid_x64.c as x64
# code in one /machine:arm64ec DLL, with chpe_runtime.s for its load config, CHPE metadata
# and the loader's dispatch slots. Its PE machine is x64 (0x8664), as Windows has it.
clang-22 --target=arm64ec-pc-windows-msvc "${common[@]}" -c hybrid.c -o "$work/hybrid.arm64ec.obj"
clang-22 --target=x86_64-pc-windows-msvc "${common[@]}" -fms-hotpatch -c hybrid_x64.c -o "$work/hybrid_x64.x64.obj"
clang-22 --target=arm64ec-pc-windows-msvc -c chpe_runtime.s -o "$work/chpe_runtime.arm64ec.obj"
lld-link-22 "${link_common[@]}" /machine:arm64ec /functionpadmin:16 "$work/hybrid.arm64ec.obj" \
  "$work/hybrid_x64.x64.obj" "$work/chpe_runtime.arm64ec.obj" /out:"$out/hybrid.arm64ec.dll" \
  /implib:"$work/hybrid.arm64ec.lib"
echo "built $(basename "$out")/hybrid.arm64ec.dll"
# Its patch image: Arm64EC replacements (hybrid_patch.c), with the same runtime object.
clang-22 --target=arm64ec-pc-windows-msvc "${common[@]}" -c hybrid_patch.c -o "$work/hybrid_patch.arm64ec.obj"
lld-link-22 "${link_common[@]}" /machine:arm64ec /functionpadmin:16 "$work/hybrid_patch.arm64ec.obj" \
  "$work/chpe_runtime.arm64ec.obj" /out:"$out/hybrid_patch.arm64ec.dll" /implib:"$work/hybrid_patch.arm64ec.lib"
echo "built $(basename "$out")/hybrid_patch.arm64ec.dll"
# An ARM64X image: hybrid_native.c as its native Arm64 view (with the plain load config)
# and the Arm64EC image above as its Arm64EC view; lld writes the ARM64X dynamic value
# relocations that turn one view into the other (emu/pe/Arm64xRelocations).
clang-22 --target=aarch64-pc-windows-msvc "${common[@]}" -c hybrid_native.c -o "$work/hybrid_native.arm64.obj"
clang-22 --target=aarch64-pc-windows-msvc "${common[@]}" -c loadconfig.c -o "$work/loadconfig.arm64x.obj"
lld-link-22 "${link_common[@]}" /machine:arm64x /functionpadmin:16 "$work/hybrid.arm64ec.obj" \
  "$work/hybrid_x64.x64.obj" "$work/chpe_runtime.arm64ec.obj" "$work/hybrid_native.arm64.obj" \
  "$work/loadconfig.arm64x.obj" /out:"$out/hybridx.arm64x.dll" /implib:"$work/hybridx.arm64x.lib"
echo "built $(basename "$out")/hybridx.arm64x.dll"
# The same source without hotpatch support: 1-byte first instructions, no padding.
# `inspect` must call these functions not hotpatchable.
build x64 basics.plain --
