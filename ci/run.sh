#!/usr/bin/env bash
# The project's own CI recipe (called by .ci/run): tests, then the smoke suite's gate.
set -euo pipefail
cd "$(dirname "$0")/.."
make test
.venv/bin/ganbench check suites/ci_smoke.yaml --out runs/ci_smoke --baseline results/ci_smoke.csv --quiet
