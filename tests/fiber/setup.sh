#!/usr/bin/env bash
# Creates the virtualenv the fiber interop tests run the Python client with
# (tests/tests/gateway_fiber.rs looks for $SV_FIBER_PYTHON or
# .venv-fiber/bin/python). Idempotent; callable from make.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${SV_FIBER_VENV:-.venv-fiber}"
PYTHON="${PYTHON:-python3}"
REQS=tests/fiber/requirements.txt

if [ ! -x "$VENV/bin/python" ]; then
  echo "fiber-setup: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.fiber-requirements"
if ! cmp -s "$REQS" "$stamp" 2>/dev/null; then
  echo "fiber-setup: installing $REQS into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$stamp"
fi
"$VENV/bin/python" -c "import substrateinterface, httpx, scalecodec" 
echo "fiber-setup: ok ($VENV/bin/python)"
