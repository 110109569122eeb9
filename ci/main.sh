#!/usr/bin/env bash
# Quick start command 1: build hph and run it over the bundled corpus: `inspect` every
# image, then `call` every computational corpus function on x64 and Arm64 and show that
# both architectures agree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/build.sh" >/dev/null
hph="$root/build/harness/hph"
images="$root/corpus/images"

for image in "$images"/*.dll; do
  "$hph" inspect "$image"
  echo
done

calls=(
  "mix64 1 2 3" "rotl_xor 0x80000001 5" "signed_divmod -7 2" "sum8 1 2 3 4 5 6 7 8"
  "popcount_loop 0xF0F0" "collatz_steps 27" "fib_iter 90" "table_hash 0x1234"
  "scratch_roundtrip 5" "dispatch 8 100 7" "apply_op 1 9" "fib_rec 15" "gcd_rec 1071 462"
  "call_chain 77"
)
status=0
printf '%-30s %-22s %-22s %s\n' "call" "x64" "arm64" "agree"
for call in "${calls[@]}"; do
  x64=$("$hph" call "$images/basics.x64.dll" $call --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')
  arm=$("$hph" call "$images/basics.arm64.dll" $call --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')
  agree=yes; [ "$x64" = "$arm" ] || { agree=NO; status=1; }
  printf '%-30s %-22s %-22s %s\n' "$call" "$x64" "$arm" "$agree"
done
exit $status
