#!/usr/bin/env bash
# Every C++ file of the project is formatted as .clang-format says (clang-format-22).
# The corpus sources are left out: their bytes are the images' inputs (corpus/build.sh).
# Exit 0 when formatted, 1 listing the files that are not, 77 (skipped) without the tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tool=$(command -v clang-format-22 || true)
[ -n "$tool" ] || { echo "check-format: clang-format-22 is not installed (ci/install-deps.sh installs it)"; exit 77; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^corpus/')
unformatted=()
for f in "${files[@]}"; do
  "$tool" --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if [ ${#unformatted[@]} -gt 0 ]; then
  printf 'not formatted (run: clang-format-22 -i FILE): %s\n' "${unformatted[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
