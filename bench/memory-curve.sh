#!/usr/bin/env bash
# Resident memory of one long `hph check` over time: every INTERVAL seconds, the summed
# VmRSS of hph and its worker processes, and the schedules its progress line reports.
# A flat column is the goal (issue 12: under 512 MB whatever the length).
#   bench/memory-curve.sh HPH SCENARIO SECONDS [INTERVAL] [hph check options...]
# It prints "seconds resident_mb schedules" rows and the peak (VmHWM) at the end.
set -euo pipefail
hph=$1 scenario=$2 seconds=$3 interval=${4:-10}
shift $(( $# < 4 ? $# : 4 ))
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$hph" check "$scenario" --schedules 1000000000 --max-time "$seconds" --progress "$interval" "$@" \
  >/dev/null 2>"$log" &
parent=$!
resident() {  # kB summed over hph and its children
  local total=0 pid
  for pid in $parent $(pgrep -P "$parent" || true); do
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
peak=0 start=$SECONDS
printf '%8s %12s %12s\n' seconds resident_mb schedules
while kill -0 "$parent" 2>/dev/null; do
  sleep "$interval"
  kill -0 "$parent" 2>/dev/null || break
  kb=$(resident)
  [ "$kb" -gt "$peak" ] && peak=$kb
  schedules=$(grep -o '[0-9,]* schedules' "$log" | tail -1 | tr -d ', schedules' || true)
  printf '%8d %12.1f %12s\n' $((SECONDS - start)) "$(echo "$kb / 1024" | bc -l)" "${schedules:--}"
done
wait "$parent" || true
printf 'peak resident (largest sample): %.1f MB\n' "$(echo "$peak / 1024" | bc -l)"
