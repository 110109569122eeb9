#!/usr/bin/env bash
# A short run of every fuzz target (the test suite's slice, `fuzz/short_runs`): each from
# its seed corpus for at most SECONDS (default 15) and a fixed number of inputs with a
# fixed seed (the same inputs on every machine that gets that far), clean; then the
# end-to-end target on the unsafe naive-jmp5 from an empty corpus, which must find the
# violation. Needs the targets fuzz/build.sh builds (ci/test.sh builds them), or those of
# the sanitize preset's build (the test sets HPH_FUZZ_OUT there).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-15}
bin=${HPH_FUZZ_OUT:-$root/build-fuzz/out}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
# Inputs per target: about 10 s each on a CI core. The relocator's differential target
# and the hybrid code target run their seeds only (0: the corpus, the inputs it found among them, no mutation): which
# inputs libFuzzer mutates to depends on the build's code addresses, and mutated machine
# code keeps finding emulator corner cases (fuzz/README.md) that a CI slice must not
# find by chance. Long runs mutate it.
declare -A runs=([pe_image]=200000 [hotpatch_table]=200000 [chpe_metadata]=30000 [arm64x_relocations]=30000
                [scenario]=100000 [replay_token]=1000000 [relocator]=0 [hybrid_code]=0 [schedule]=800)
for name in pe_image hotpatch_table chpe_metadata arm64x_relocations scenario replay_token relocator hybrid_code \
  schedule; do
  target=$bin/hph_fuzz_$name
  if [ ! -x "$target" ]; then
    echo "fuzz: $target is missing: run fuzz/build.sh" >&2
    exit 1
  fi
  corpus=$work/$name
  mkdir -p "$corpus" "$work/artifacts-$name"
  cp -r "$root/fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
  if "$target" "$corpus" -seed=1 -runs="${runs[$name]}" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts-$name/" -print_final_stats=1 >"$work/$name.log" 2>&1; then
    echo "fuzz: $name clean: $(grep -E '^stat::number_of_executed_units' "$work/$name.log" | awk '{print $2}') inputs"
  else
    echo "fuzz: $name FOUND A CRASH (log below)" >&2
    tail -40 "$work/$name.log" >&2
    status=1
  fi
done
# The end-to-end target finds the unsafe protocol's violation from nothing.
mkdir -p "$work/naive" "$work/artifacts-naive"
if HPH_FUZZ_SCENARIO=$root/corpus/scenarios/patch-naive-jmp5.x64.toml "$bin/hph_fuzz_schedule" "$work/naive" \
    -seed=1 -max_total_time="$seconds" -timeout=20 -artifact_prefix="$work/artifacts-naive/" >"$work/naive.log" 2>&1; then
  echo "fuzz: schedule did not find naive-jmp5's violation in ${seconds} s" >&2
  status=1
else
  violation=$(grep -m1 -E '^violation ' "$work/naive.log" || true)
  if [ -z "$violation" ]; then
    echo "fuzz: schedule on naive-jmp5 stopped without a violation (log below)" >&2
    tail -40 "$work/naive.log" >&2
    status=1
  else
    echo "fuzz: schedule found naive-jmp5's ${violation%%:*} from an empty corpus"
  fi
fi
exit $status
