#!/usr/bin/env bash
# The kill-at-every-step soak (issue 13): for every safe protocol, x64 (ptrace) and Arm64
# (under qemu-aarch64, through the runner's agent), the external patcher is SIGKILLed
# right after step K, for every K, TRIALS times each (default 1000), while real threads
# call the patched function. Every run must leave live threads, no fault,
# the invariant holding and the bytes a prefix state of the plan. Not part of the test
# suite (which runs 2 trials per step): about 0.1 s a run on x64, more under qemu.
#   ci/soak-kill-each-step.sh [TRIALS] [BUILD_DIR]
set -euo pipefail
trials=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
status=0
for scenario in patch-padding-short-jmp.x64.toml patch-stop-the-world.x64.toml patch-int3-3step.x64.toml \
  patch-b-direct.arm64.toml patch-veneer.arm64.toml patch-literal-swap.arm64.toml patch-stop-the-world.arm64.toml; do
  "$build/harness/hph" onhost "$root/corpus/scenarios/$scenario" --patcher external --kill-each-step "$trials" \
    --duration 0.05 --json "${TMPDIR:-/tmp}/soak-$scenario.json" || status=1
done
exit $status
