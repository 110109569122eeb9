#!/usr/bin/env bash
# Builds the libFuzzer targets, OSS-Fuzz style: $CC, $CXX, $CFLAGS, $CXXFLAGS,
# $LIB_FUZZING_ENGINE and $OUT as OSS-Fuzz's builder sets them, else clang-22 with
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer (Debian's libclang-rt-22-dev,
# libfuzzer-22-dev). The targets and their seed corpora (zipped, as OSS-Fuzz wants them)
# end up in $OUT (default build-fuzz/out).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:=clang-22}" "${CXX:=clang++-22}"
: "${CFLAGS:=-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined}"
: "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer,address,undefined}"
: "${OUT:=$root/build-fuzz/out}"
build=${HPH_FUZZ_BUILD_DIR:-$root/build-fuzz}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DHPH_BUILD_TESTS=OFF -DHPH_BUILD_BENCH=OFF -DHPH_FUZZ=ON -DHPH_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc)"
mkdir -p "$OUT"
for target in "$build"/fuzz/hph_fuzz_*; do
  name=$(basename "$target")
  cp "$target" "$OUT/$name"
  seeds=$root/fuzz/corpus/${name#hph_fuzz_}
  if [ -d "$seeds" ]; then (cd "$seeds" && python3 -c '
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for f in sorted(os.listdir(".")): z.write(f)' "$OUT/${name}_seed_corpus.zip"); fi
done
echo "fuzz: targets in $OUT"
