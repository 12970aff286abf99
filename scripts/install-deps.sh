#!/usr/bin/env bash
# Installs what the build, the tests and `make run` need on a fresh Debian 12
# machine that only has the Rust toolchain: GStreamer (decode), protoc (gRPC
# codegen), OpenCV with clang for its binding generator (sv-score, the
# validator's scoring behind `scorevision score`) and ONNX Runtime's shared
# library from the PyPI wheel (infer), the latter into a project-local
# virtualenv so nothing outside the checkout moves.
# strace lets a test show that infer reaches no network (ONNX Runtime's
# telemetry off). Idempotent: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config
  protobuf-compiler
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-libav
  gstreamer1.0-tools
  python3-venv
  ffmpeg
  libopencv-dev
  clang
  libclang-dev
  strace
)
ORT_VERSION="${ORT_VERSION:-1.32.0}"
VENV="${SV_VENV:-.venv}"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "install-deps: creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
  echo "install-deps: installing onnxruntime==$ORT_VERSION into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION"
fi
echo "install-deps: ok (ONNX Runtime: $(scripts/ort-dylib.sh))"
