#!/usr/bin/env bash
# Creates .venv and installs the project into it. Safe to run again.
#   EXTRAS=dev          also install the development tools
#   TORCH_SPEC=...      torch requirement (default torch==2.13.0)
#   TORCH_INDEX_URL=... wheel index for torch, e.g. https://download.pytorch.org/whl/cpu
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# torch first and on its own: left to the resolver, a bare "torch" may pull a CUDA
# build of several GB on machines that have no GPU.
if ! python -c "import torch" 2>/dev/null; then
    python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}" \
        ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
if [ -n "${EXTRAS:-}" ]; then
    python -m pip install --quiet -e ".[${EXTRAS}]"
else
    python -m pip install --quiet -e .
fi
