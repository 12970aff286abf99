#!/usr/bin/env bash
# Creates (or refreshes) a virtualenv holding the reference miner's pinned
# Python stack (ultralytics, supervision, torch, headless OpenCV 4.8.1, ORT)
# from a requirements file. Shared by tests/fixtures/make_all.sh (goldens)
# and tests/bench/setup.sh (the reference loop).
#   usage: reference-venv.sh VENV REQUIREMENTS PYTHON LABEL
# Idempotent: a stamp in VENV holds the requirements' hash, so an unchanged
# file costs nothing. Heavy the first time: the PyPI torch wheel pulls
# several GB of CUDA libraries (unused; everything runs on the CPU).
set -euo pipefail
VENV="$1" REQS="$2" PY="$3" LABEL="$4"

want="$(sha256sum "$REQS" | cut -d' ' -f1)"
stamp="$VENV/.reference-requirements.sha256"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "$LABEL: installing the reference environment into $VENV (first time: several GB)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  # ultralytics depends on opencv-python (newest, GUI build), which would
  # shadow the pinned headless cv2 the reference miner decodes with.
  "$VENV/bin/pip" uninstall -q -y opencv-python || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
    "$(grep -E '^opencv-python-headless==' "$REQS")"
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import cv2, sys; sys.exit(cv2.__version__ != '4.8.1')" \
  || { echo "$LABEL: cv2 in $VENV is not 4.8.1" >&2; exit 1; }
