#!/usr/bin/env bash
# Debian's prometheus, for the test that scrapes the stages with a real
# Prometheus (services/cli/tests/metrics.rs). The package is downloaded
# (apt-get download: no root, nothing installed, no service started) and
# only its server binary is unpacked into .prometheus/usr/bin/. Skipped
# when a prometheus is already on PATH or unpacked. A failure here only
# makes that test skip, saying why; it never fails `make test-deps`.
set -uo pipefail
cd "$(dirname "$0")/../.."

DIR=.prometheus
BIN="$DIR/usr/bin/prometheus"
if command -v prometheus >/dev/null 2>&1 || [ -x "$BIN" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download() { (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); }
if ! download; then
  # No package lists yet (a fresh machine): fetch them, as install-deps does.
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  $SUDO apt-get update -qq >/dev/null 2>&1
  if ! download; then
    echo "prometheus setup: cannot download Debian's prometheus package; the real-Prometheus test will be skipped" >&2
    exit 0
  fi
fi
mkdir -p "$DIR"
if dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$DIR" ./usr/bin/prometheus; then
  echo "prometheus setup: $("$BIN" --version 2>&1 | head -1) in $DIR"
else
  echo "prometheus setup: cannot unpack the package; the real-Prometheus test will be skipped" >&2
fi
