#!/usr/bin/env bash
# Creates (or refreshes) the benchmark's Python environment, .venv-bench, from
# tests/bench/requirements.txt: the reference miner's pinned stack
# (ultralytics 8.3.48, supervision 0.22.0, torch 2.5.1, OpenCV 4.8.1, ORT 1.32).
# Idempotent: a stamp holds the requirements' hash, so an unchanged file costs
# nothing. Heavy the first time: the PyPI torch wheel pulls ~3 GB of CUDA
# libraries (unused here; everything runs on the CPU).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.venv-bench}"
PY="${BENCH_PYTHON:-$(command -v python3.11 || command -v python3)}"

want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
stamp="$VENV/.bench-requirements.sha256"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bench: installing the reference environment into $VENV (first time: several GB)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  # ultralytics depends on opencv-python (newest, GUI build), which would
  # shadow the pinned headless cv2 the reference miner decodes with.
  "$VENV/bin/pip" uninstall -q -y opencv-python || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
    "$(grep -E '^opencv-python-headless==' "$HERE/requirements.txt")"
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import cv2, sys; sys.exit(cv2.__version__ != '4.8.1')" \
  || { echo "bench: cv2 in $VENV is not 4.8.1" >&2; exit 1; }
