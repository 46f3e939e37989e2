#!/usr/bin/env bash
# The whole test suite: type-check, lint, then every test on SQLite and MariaDB.
# Ends with one plain "N passed, N failed" line so any CI can read the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -t strato-vitest-XXXXXX.json)
trap 'rm -f "$results"' EXIT

echo "== type-check"; npx tsc -p tsconfig.json --noEmit || exit 1
echo "== lint"; npx eslint src test bench || exit 1
echo "== tests"
npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped`);
' "$results" 2>/dev/null || echo "Tests: 0 passed, 1 failed"
exit $status
