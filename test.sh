#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (idempotent), then ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

./install.sh --test

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy companion hardware models tests benchmarks
echo "==> pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
