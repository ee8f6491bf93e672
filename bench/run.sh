#!/usr/bin/env bash
# Run every benchmark with the sizes the project targets; figures, not pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for b in issuance verification national audit; do
  echo "=== bench.$b"
  .venv/bin/python -m "bench.$b"
done
