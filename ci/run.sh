#!/usr/bin/env bash
# The project's own CI recipe (called by .ci/run): tests, then the smoke suite's gate.
set -euo pipefail
cd "$(dirname "$0")/.."
# The report's browser test (tests/test_report.py) drives Debian's chromium: install it when absent
# (CI runs as root; idempotent). Without it that one test is skipped, with the reason printed.
if ! command -v chromium >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "warning: could not install chromium; the report's browser test will be skipped" >&2
fi
make test
.venv/bin/ganbench check suites/ci_smoke.yaml --out runs/ci_smoke --baseline results/ci_smoke.csv --quiet
