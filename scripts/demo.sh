#!/usr/bin/env bash
# The main job, from a fresh machine: install, then make a synthetic poster collection,
# ingest it into the embedded index and run example searches in English and Korean.
#   COUNT=2000        synthetic posters to make (default 2000, a few minutes on 2 cores)
#   any arguments     passed on to `poster-search demo` (e.g. --dataset PATH, --model ID)
# Without access to the Hugging Face hub the demo says so and runs a random stand-in model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. .venv/bin/activate
# Model-loading chatter (config warnings of the stand-in model) would bury the results.
export TRANSFORMERS_VERBOSITY="${TRANSFORMERS_VERBOSITY:-error}"
exec poster-search demo --count "${COUNT:-2000}" "$@"
