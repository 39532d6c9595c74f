#!/usr/bin/env bash
# The static checks of `npm test`, side by side (types of the code and of the page, lint, format):
# all run to the end, and the script fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p tsconfig.json &
types=$!
npx tsc --noEmit -p web/tsconfig.json &
pageTypes=$!
npx eslint --max-warnings 0 . &
lint=$!
npx prettier --check . &
format=$!
status=0
wait "$types" || status=1
wait "$pageTypes" || status=1
wait "$lint" || status=1
wait "$format" || status=1
exit "$status"
