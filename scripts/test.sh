#!/usr/bin/env bash
# The whole test suite: type-check, lint, then every test on SQLite and MariaDB.
# Ends with one plain "N passed, N failed" line so any CI can read the outcome.
#
# Tests that boot real guests (test/agent, test/system: QEMU under TCG on pretend hosts) run after the
# rest, one file at a time: a TCG boot is CPU-bound, and sharing two cores with the database suites
# (or with each other) stretched boots past their timeouts. With arguments, they go to one vitest run.
set -uo pipefail
cd "$(dirname "$0")/.."
main=$(mktemp -t strato-vitest-XXXXXX.json)
guests=$(mktemp -t strato-vitest-XXXXXX.json)
trap 'rm -f "$main" "$guests"' EXIT

echo "== type-check"; npx tsc -p tsconfig.json --noEmit || exit 1
echo "== lint"; npx eslint src test bench || exit 1
if (($#)); then
  echo "== tests"
  npx vitest run --reporter=default --reporter=json --outputFile="$main" "$@"
  status=$?
  echo '{}' > "$guests"
else
  echo "== tests"
  npx vitest run --reporter=default --reporter=json --outputFile="$main" --exclude 'test/agent/**' --exclude 'test/system/**'
  s1=$?
  echo "== tests with real guests (one file at a time)"
  npx vitest run --reporter=default --reporter=json --outputFile="$guests" --no-file-parallelism test/agent test/system
  s2=$?
  status=$((s1 || s2))
fi
node -e '
  const fs = require("fs");
  const read = (f) => { const t = fs.readFileSync(f, "utf8"); return t.trim() ? JSON.parse(t) : {}; };
  const rs = process.argv.slice(1).map(read);
  const sum = (k) => rs.reduce((n, r) => n + (r[k] || 0), 0);
  if (!rs.some((r) => "numPassedTests" in r)) throw new Error("no vitest report");
  // Name the failures last: a CI log is often read from its tail only.
  for (const r of rs) for (const f of r.testResults || []) for (const a of f.assertionResults || [])
    if (a.status === "failed") console.log(`FAILED: ${f.name} > ${a.fullName}\n  ${String((a.failureMessages || [])[0] || "").split("\n").slice(0, 3).join(" | ").slice(0, 400)}`);
  for (const r of rs) for (const f of r.testResults || [])
    if (f.status === "failed" && !(f.assertionResults || []).some((a) => a.status === "failed"))
      console.log(`FAILED: ${f.name}: ${String(f.message || "").split("\n")[0]}`);
  console.log(`Tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
' "$main" "$guests" 2>/dev/null || echo "Tests: 0 passed, 1 failed"
exit $status
