#!/usr/bin/env bash
# Removes what earlier, killed test runs left behind: every test home (${TMPDIR:-/tmp}/sgpods-test-*)
# whose owner process is dead is taken down with `sgpods down --purge`, which removes that home's
# processes and kernel objects and nothing else. Homes of live runs are left alone.
set -uo pipefail
cd "$(dirname "$0")/.."

cli=dist/cli/main.js
for home in "${TMPDIR:-/tmp}"/sgpods-test-*; do
  [[ -d $home ]] || continue
  owner=$(cat "$home/owner.pid" 2>/dev/null || echo '')
  if [[ -n $owner ]] && kill -0 "$owner" 2>/dev/null; then
    continue
  fi
  echo "sweep: stale test home $home"
  if [[ -f $cli ]] && node "$cli" down --help >/dev/null 2>&1; then
    node "$cli" down --home "$home" --purge || echo "sweep: sgpods down failed for $home" >&2
  fi
  rm -rf "$home"
done
exit 0
