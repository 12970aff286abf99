#!/usr/bin/env bash
# Creates (or refreshes) the benchmark's Python environment, .venv-bench, from
# tests/bench/requirements.txt: the reference miner's pinned stack
# (ultralytics 8.3.48, supervision 0.22.0, torch 2.5.1, OpenCV 4.8.1, ORT 1.32).
# Idempotent and heavy the first time: see scripts/reference-venv.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.venv-bench}"
PY="${BENCH_PYTHON:-$(command -v python3.11 || command -v python3)}"

"$ROOT/scripts/reference-venv.sh" "$VENV" "$HERE/requirements.txt" "$PY" bench
