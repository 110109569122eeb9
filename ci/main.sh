#!/usr/bin/env bash
# Quick start command 1: build hph and run it over the bundled corpus:
#   1. `hph check` over every bundled scenario (x64 and Arm64): every
#      patch protocol explored exhaustively at preemption bound 2 with the property
#      checkers (C1-C8, X1-X3, A1-A4) and the fetch models, and the hybrid (Arm64EC)
#      scenarios checked by one serial run (H1-H4), then a verdict table.
#      Canaries (unsafe patches, races, deadlocks) are expected violations and pass when
#      caught. Reports for CI go to build/reports (JUnit, SARIF, JSON, and HTML to open
#      in a browser);
#   2. `hph gate corpus/release.toml`: the bundled patch release through every stage
#      (exploration, trampolines, on the host), ship or not (build/reports/gate);
#   3. `hph call` on every computational corpus function, x64 against Arm64; and on the
#      hybrid exports as hybrid processes (x64 and Arm64 engines over one memory), the
#      Arm64EC image against the Arm64EC view of the ARM64X image;
#   4. `hph inspect` of every image, summarised (ci/main.sh --verbose: in full).
# Exit code: 0 when every check verdict matched its expectation and the release ships.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/build.sh" >/dev/null
hph="$root/build/harness/hph"
images="$root/corpus/images"
cd "$root"

echo "== hph check corpus/scenarios/*.toml"
status=0
mkdir -p build/reports
"$hph" check corpus/scenarios/*.toml --trace-dir build/traces \
  --junit build/reports/check.xml --sarif build/reports/check.sarif --json build/reports/check.json \
  --html build/reports/check.html || status=$?

echo
echo "== hph gate corpus/release.toml: ship or not, reports in build/reports/gate"
"$hph" gate corpus/release.toml --out build/reports/gate || status=$?

result() { "$hph" call "$1" $2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])'; }
# compare HEADING_A IMAGE_A HEADING_B IMAGE_B OPTIONS_B CALL...: each call on both, side by
# side (OPTIONS_B: more options for IMAGE_B's calls); a disagreement fails the job.
compare() {
  local heading_a=$1 a=$2 heading_b=$3 b=$4 options_b=$5; shift 5
  printf '%-26s %-22s %-24s %s\n' "call" "$heading_a" "$heading_b" "agree"
  for call in "$@"; do
    local left right agree=yes
    left=$(result "$a" "$call")
    right=$(result "$b" "$call $options_b")
    [ "$left" = "$right" ] || { agree=NO; status=1; }
    printf '%-26s %-22s %-24s %s\n' "$call" "$left" "$right" "$agree"
  done
}

echo
echo "== hph call: x64 and Arm64 builds of the same source"
compare x64 "$images/basics.x64.dll" arm64 "$images/basics.arm64.dll" "" \
  "mix64 1 2 3" "rotl_xor 0x80000001 5" "signed_divmod -7 2" "sum8 1 2 3 4 5 6 7 8" \
  "popcount_loop 0xF0F0" "collatz_steps 27" "fib_iter 90" "table_hash 0x1234" \
  "scratch_roundtrip 5" "dispatch 8 100 7" "apply_op 1 9" "fib_rec 15" "gcd_rec 1071 462" \
  "call_chain 77"

echo
echo "== hph call: hybrid processes, hybrid.arm64ec.dll and the Arm64EC view of hybridx.arm64x.dll"
compare arm64ec "$images/hybrid.arm64ec.dll" "arm64x --view arm64ec" "$images/hybridx.arm64x.dll" "--view arm64ec" \
  "add 2 40" "sum6 1 2 3 4 5 6" "ec_calls_x64 7 2" "x64_calls_add 2 3" "scaled 3 4" "sum_va 3 1 2 3"

echo
echo "== hph inspect"
for image in "$images"/*.dll; do
  if [ "${1:-}" = "--verbose" ]; then
    "$hph" inspect "$image"; echo
  else
    "$hph" inspect "$image" | sed -n '1p;/hotpatchable as compiled/p'
  fi
done
exit $status
