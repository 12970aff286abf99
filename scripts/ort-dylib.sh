#!/usr/bin/env bash
# Prints the path of libonnxruntime.so inside the project's virtualenv (the
# onnxruntime wheel ships it under onnxruntime/capi/). ORT_DYLIB_PATH wins.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${ORT_DYLIB_PATH:-}" ]; then echo "$ORT_DYLIB_PATH"; exit 0; fi
VENV="${SV_VENV:-.venv}"
lib=$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | sort | tail -n 1 || true)
[ -n "$lib" ] || { echo "ort-dylib: no libonnxruntime.so under $VENV; run scripts/install-deps.sh" >&2; exit 1; }
echo "$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")"
