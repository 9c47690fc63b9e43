#!/usr/bin/env bash
# Runs the type check and the linter (CI gates on them too), then every test file under test/ with
# node:test through tsx (Node 20 does not expand globs itself).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent typecheck
npm run --silent lint
shopt -s globstar nullglob
files=(test/**/*.test.ts)
if [ ${#files[@]} -eq 0 ]; then echo "no test files under test/" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 "${files[@]}"
