#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs every check: stubs, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev bash scripts/bootstrap.sh
# The web page is tested in a real browser: Debian's chromium, installed when missing.
bash scripts/install_browser.sh
. .venv/bin/activate
python scripts/gen_proto.py --check
ruff check .
ruff format --check .
mypy .
python -m pytest -q "$@"
