#!/usr/bin/env python3
"""Offline checks on the rendered Kubernetes manifests, for scripts/k8s-validate.sh.

    check.py strip-crds RENDERED.yaml
        Prints the objects kubernetes-validate has schemas for (everything but
        the CRD kinds in CRD_SCHEMAS) to stdout; says on stderr what it left out.
    check.py typo RENDERED.yaml
        Prints the objects with one misspelt Deployment field (self-test input
        for kubernetes-validate --strict, which must reject it).
    check.py same LABEL=RENDERED.yaml LABEL=RENDERED.yaml
        Exit 0 when two renders of one overlay (by two kubectl versions) hold
        the same objects: says whether they are byte-identical or only the
        same objects; otherwise exit 1 with the differences.
    check.py check --root ROOT NAME=RENDERED.yaml [...]
        Every check below on each overlay, the repo consistency checks, and a
        self-test that breaks the first overlay in known ways and expects each
        break to be caught. Exit 1 with one line per problem.

The checks, per overlay:
  - CRD objects (KEDA ScaledObject, Prometheus Operator PodMonitor) against
    scripts/k8s/schemas/*.json;
  - every workload container: readiness and liveness probes (probe ports
    declared by that container), resource requests and limits for cpu and
    memory (limits >= requests), non-root (runAsNonRoot, runAsUser != 0), no
    privilege escalation, not privileged; a pinned image; no two containers
    of a pod on one port; SV_LISTEN on a declared port;
  - every Service / PodDisruptionBudget / NetworkPolicy selector selects some
    pod template; every Service targetPort (name or number) exists in every
    pod it selects; public Services keep the source IP
    (externalTrafficPolicy: Local); a PDB never blocks all evictions;
  - every ScaledObject targets an existing Deployment; Prometheus queries name
    only series deploy/metrics.md lists;
  - metrics: every stage container serves them (SV_METRICS_LISTEN) off
    loopback on a port it declares, which a PodMonitor endpoint scrapes;
    prometheus.io/port annotations name a declared port; every PodMonitor
    selects pods and each of its endpoints names a port of one;
  - ConfigMaps, PVCs and volumes that pods reference exist;
  - upstream addresses (SV_*_ADDR, OTEL_EXPORTER_OTLP_ENDPOINT) name an
    existing Service port (or a port of the same pod for loopback), and the
    NetworkPolicies allow exactly those calls: every caller -> callee edge is
    admitted, no pod admits in-namespace pods that never call it, only pods
    behind a LoadBalancer/NodePort Service are reachable from outside, and
    every pod is covered by some ingress policy;
  - no container sets a test-only switch (SV_ALLOW_LOCAL_FILES, SV_ALLOW_NET,
    SV_ALLOW_PRIVATE_URLS or their flags);
  - gateway.toml: its port is a declared container port and shutdown_grace_s
    is below terminationGracePeriodSeconds.
Repo: k8s/base/config/otel-collector.yaml == deploy/otel-collector.yaml; the
two Dockerfile .dockerignore files are identical; the collector config's
pipelines reference defined components; the Grafana dashboard parses and its
queries name only series deploy/metrics.md lists; no file under k8s/ puts a `$patch: delete`
in a multi-document file (kubectl 1.32's kustomize v5.5.0 panics on one).
The self-test also feeds `same` renders that differ in known ways.
"""
import copy
import ipaddress
import json
import os
import re
import sys
import tomllib
from urllib.parse import urlsplit

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda-v1alpha1.json",
               ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor-monitoring-v1.json"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "PriorityClass", "RuntimeClass", "CustomResourceDefinition", "IngressClass"}
ADDR_ENV = re.compile(r"^(SV_\w+_ADDR|OTEL_EXPORTER_OTLP(_TRACES)?_ENDPOINT)$")
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
EXTERNAL = "<outside the namespace>"


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def ident(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def quantity(value):
    s = str(value)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
             "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
    for unit in sorted(units, key=len, reverse=True):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * units[unit]
    return float(s)


def selects(selector, labels):
    """A Service selector (plain map) or a LabelSelector against pod labels."""
    if selector is None:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def empty_selector(selector):
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


class Pod:
    """A workload's pod template, flattened."""

    def __init__(self, obj):
        self.obj = obj
        self.name = ident(obj)
        spec = obj["spec"]
        self.replicas = spec.get("replicas", 1)
        tmpl = spec["template"]
        self.labels = (tmpl.get("metadata") or {}).get("labels") or {}
        self.spec = tmpl["spec"]
        inits = self.spec.get("initContainers") or []
        # Long-running: regular containers and native sidecars.
        self.containers = list(self.spec.get("containers") or []) + [
            c for c in inits if c.get("restartPolicy") == "Always"]
        self.inits = [c for c in inits if c.get("restartPolicy") != "Always"]
        self.ports = []  # (container name, port name, number)
        for c in self.containers:
            for p in c.get("ports") or []:
                self.ports.append((c["name"], p.get("name"), p["containerPort"]))

    def port_number(self, ref):
        """A Service targetPort / NetworkPolicy port (name or number) -> number, or None."""
        if isinstance(ref, int):
            return ref if any(n == ref for _, _, n in self.ports) else None
        for _, name, n in self.ports:
            if name == ref:
                return n
        return None


class Overlay:
    def __init__(self, name, objects, known_metrics):
        self.name = name
        self.objects = objects
        self.known_metrics = known_metrics
        self.errors = []
        self.notes = []
        self.by_kind = {}
        for o in objects:
            self.by_kind.setdefault(o.get("kind"), []).append(o)
        self.pods = [Pod(o) for o in objects if o.get("kind") in WORKLOADS]
        self.configmaps = {o["metadata"]["name"]: o for o in self.by_kind.get("ConfigMap", [])}
        self.services = {o["metadata"]["name"]: o for o in self.by_kind.get("Service", [])}
        ns = [o["metadata"]["name"] for o in self.by_kind.get("Namespace", [])]
        self.namespace = ns[0] if len(ns) == 1 else None

    def err(self, obj, msg):
        where = ident(obj) if isinstance(obj, dict) else obj
        self.errors.append(f"[{self.name}] {where}: {msg}")

    def run(self):
        for check in (self.check_namespaces, self.check_crds, self.check_workloads, self.check_services,
                      self.check_pdbs, self.check_scaledobjects, self.check_metrics, self.check_networkpolicies,
                      self.check_traffic, self.check_gateway_config):
            try:
                check()
            except Exception as e:  # a malformed object must fail the run, not crash it
                self.errors.append(f"[{self.name}] {check.__name__}: cannot check ({type(e).__name__}: {e})")
        return self.errors

    # --- objects -----------------------------------------------------------
    def check_namespaces(self):
        for o in self.objects:
            if o.get("kind") in CLUSTER_SCOPED or not self.namespace:
                continue
            if o.get("metadata", {}).get("namespace") != self.namespace:
                self.err(o, f"namespace {o.get('metadata', {}).get('namespace')!r}, expected {self.namespace!r}")

    def check_crds(self):
        for o in self.objects:
            key = (o.get("apiVersion"), o.get("kind"))
            if key in CRD_SCHEMAS:
                with open(os.path.join(HERE, "schemas", CRD_SCHEMAS[key])) as f:
                    schema = json.load(f)
                for e in jsonschema.Draft202012Validator(schema).iter_errors(o):
                    path = ".".join(str(p) for p in e.absolute_path) or "(root)"
                    self.err(o, f"schema {CRD_SCHEMAS[key]}: {path}: {e.message}")

    # --- workloads -----------------------------------------------------------
    def env_of(self, pod, c):
        env = {}
        for src in c.get("envFrom") or []:
            ref = (src.get("configMapRef") or {}).get("name")
            if ref is not None:
                if ref not in self.configmaps:
                    self.err(pod.obj, f"container {c['name']}: envFrom ConfigMap {ref!r} does not exist")
                else:
                    env.update(self.configmaps[ref].get("data") or {})
        for e in c.get("env") or []:
            env[e["name"]] = e.get("value")
            ref = ((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name")
            if ref is not None and ref not in self.configmaps:
                self.err(pod.obj, f"container {c['name']}: env {e['name']} from ConfigMap {ref!r} that does not exist")
        return env

    def check_workloads(self):
        for pod in self.pods:
            o, spec = pod.obj, pod.spec
            if not selects(o["spec"].get("selector"), pod.labels):
                self.err(o, "spec.selector does not select its own pod template labels")
            psc = spec.get("securityContext") or {}
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            for v in volumes.values():
                if "configMap" in v and v["configMap"]["name"] not in self.configmaps:
                    self.err(o, f"volume {v['name']}: ConfigMap {v['configMap']['name']!r} does not exist")
                claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if claim and claim not in {p["metadata"]["name"] for p in self.by_kind.get("PersistentVolumeClaim", [])}:
                    self.err(o, f"volume {v['name']}: PersistentVolumeClaim {claim!r} does not exist")
            seen_ports = {}
            for c in pod.containers + pod.inits:
                cname = f"container {c['name']}"
                long_running = c in pod.containers
                if long_running:
                    for probe in ("readinessProbe", "livenessProbe"):
                        if not c.get(probe):
                            self.err(o, f"{cname} has no {probe}")
                    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                        if c.get(probe):
                            self.check_probe_port(pod, c, probe)
                res = c.get("resources") or {}
                for kind in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in (res.get(kind) or {}):
                            self.err(o, f"{cname} has no resources.{kind}.{r}")
                for r, lim in (res.get("limits") or {}).items():
                    req = (res.get("requests") or {}).get(r)
                    if req is not None and quantity(req) > quantity(lim):
                        self.err(o, f"{cname}: resources.requests.{r} {req} > limits {lim}")
                    if "/" in r and req is not None and quantity(req) != quantity(lim):
                        self.err(o, f"{cname}: extended resource {r} request {req} != limit {lim}")
                csc = c.get("securityContext") or {}
                if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
                    self.err(o, f"{cname}: runAsNonRoot is not true (pod or container securityContext)")
                if csc.get("runAsUser", psc.get("runAsUser")) == 0:
                    self.err(o, f"{cname}: runAsUser is 0 (root)")
                if csc.get("allowPrivilegeEscalation") is not False:
                    self.err(o, f"{cname}: securityContext.allowPrivilegeEscalation must be false")
                if csc.get("privileged"):
                    self.err(o, f"{cname}: privileged")
                image = c.get("image", "")
                if not re.search(r"(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$", image.split("/")[-1]) or image.endswith(":latest"):
                    self.err(o, f"{cname}: image {image!r} has no pinned tag or digest (kustomize images: not applied?)")
                for m in c.get("volumeMounts") or []:
                    if m["name"] not in volumes:
                        self.err(o, f"{cname}: volumeMount {m['name']!r} names no volume of the pod")
                for p in c.get("ports") or [] if long_running else []:
                    key = (p["containerPort"], p.get("protocol", "TCP"))
                    if key in seen_ports:
                        self.err(o, f"{cname} and container {seen_ports[key]} both declare port {key[0]} (one network namespace per pod)")
                    seen_ports[key] = c["name"]
                env = self.env_of(pod, c)
                self.check_cli_contract(o, cname, c, env)
                listen = env.get("SV_LISTEN")
                stage = (c.get("args") or [None])[0]
                if long_running and stage in ("decode", "infer", "track"):
                    host = (listen or "").rsplit(":", 1)[0].strip("[]")
                    if not listen or host in ("127.0.0.1", "::1", "localhost"):
                        self.err(o, f"{cname}: the {stage} stage listens on loopback only (SV_LISTEN "
                                    f"{listen or 'unset'}): kubelet's probes and its callers cannot reach it")
                if listen:
                    port = int(listen.rsplit(":", 1)[1])
                    if port not in [p["containerPort"] for p in c.get("ports") or []]:
                        self.err(o, f"{cname}: SV_LISTEN={listen} but the container declares no port {port}")
                    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                        g = (c.get(probe) or {}).get("grpc")
                        if g and g.get("port") != port:
                            self.err(o, f"{cname}: {probe} probes gRPC port {g.get('port')} but SV_LISTEN is {listen}")

    def check_cli_contract(self, o, cname, c, env):
        """The binary must read every SV_ variable we set, and each stage must be
        told where its upstream is (clap's `required` would crash-loop it)."""
        for key in env:
            if key.startswith("SV_") and CLI_ENV and key not in CLI_ENV:
                self.err(o, f"{cname}: env {key}: the scorevision binary reads no such variable "
                            f"({', '.join(CLI_ENV_SOURCES)})")
        args = c.get("args") or []
        for key in TEST_ONLY_ENV:
            flag = "--" + key[3:].lower().replace("_", "-")
            if key in env or any(a == flag or a.startswith(flag + "=") for a in args):
                self.err(o, f"{cname}: {key} / {flag} is for tests only (it lets callers read local "
                            f"files or fetch from private networks)")
        needed = UPSTREAM_ENV.get(args[0]) if args and "image" in c and "scorevision" in c.get("image", "") else None
        if needed and needed not in env and not any(a.startswith("--" + needed[3:-5].lower()) for a in args):
            self.err(o, f"{cname}: `{args[0]}` needs {needed} (its upstream's addresses)")

    def check_probe_port(self, pod, c, probe):
        p = c[probe]
        handler = p.get("grpc") or p.get("httpGet") or p.get("tcpSocket")
        if handler is None:
            return  # exec probes name no port
        ref = handler.get("port")
        declared = [(q.get("name"), q["containerPort"]) for q in c.get("ports") or []]
        if isinstance(ref, int):
            ok = any(n == ref for _, n in declared)
        else:
            ok = any(name == ref for name, _ in declared)
        if not ok:
            self.err(pod.obj, f"container {c['name']}: {probe} port {ref!r} is not a port of that container")

    # --- selectors ---------------------------------------------------------
    def selected(self, selector):
        return [p for p in self.pods if selects(selector, p.labels)]

    def check_services(self):
        for s in self.by_kind.get("Service", []):
            spec = s["spec"]
            sel = spec.get("selector")
            if not sel:
                self.err(s, "has no selector")
                continue
            pods = self.selected(sel)
            if not pods:
                self.err(s, f"selector {sel} selects no pod template")
                continue
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port["port"])
                for p in pods:
                    if p.port_number(target) is None:
                        self.err(s, f"port {port.get('name', port['port'])}: targetPort {target!r} is not a container port of {p.name}")
            if spec.get("type") in ("LoadBalancer", "NodePort") and spec.get("externalTrafficPolicy") != "Local":
                self.err(s, f"type {spec['type']} without externalTrafficPolicy: Local (the validator's source IP would be lost)")

    def min_replicas(self, pod):
        for so in self.by_kind.get("ScaledObject", []):
            if so["spec"]["scaleTargetRef"].get("name") == pod.obj["metadata"]["name"]:
                return so["spec"].get("minReplicaCount", 0)
        return pod.replicas

    def check_pdbs(self):
        for pdb in self.by_kind.get("PodDisruptionBudget", []):
            spec = pdb["spec"]
            pods = self.selected(spec.get("selector"))
            if empty_selector(spec.get("selector")) or not pods:
                self.err(pdb, f"selector {spec.get('selector')} selects no pod template")
                continue
            replicas = sum(self.min_replicas(p) for p in pods)
            if isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= replicas:
                self.err(pdb, f"minAvailable {spec['minAvailable']} >= {replicas} replica(s): no pod could ever be evicted (node drains hang)")
            if spec.get("maxUnavailable") in (0, "0%"):
                self.err(pdb, "maxUnavailable 0: no pod could ever be evicted")

    def check_scaledobjects(self):
        deployments = {d["metadata"]["name"] for d in self.by_kind.get("Deployment", [])}
        for so in self.by_kind.get("ScaledObject", []):
            spec = so["spec"]
            ref = spec.get("scaleTargetRef") or {}
            if ref.get("kind", "Deployment") != "Deployment" or ref.get("name") not in deployments:
                self.err(so, f"scaleTargetRef {ref} is not a Deployment of this overlay")
            if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
                self.err(so, "minReplicaCount > maxReplicaCount")
            for t in spec.get("triggers") or []:
                if t.get("type") == "prometheus":
                    for m in metric_names(t.get("metadata", {}).get("query", "")):
                        if self.known_metrics is not None and m not in self.known_metrics:
                            self.err(so, f"query names unknown metric {m!r} (not in deploy/metrics.md)")

    def check_metrics(self):
        monitors = self.by_kind.get("PodMonitor", [])
        for pm in monitors:
            spec = pm["spec"]
            pods = self.selected(spec.get("selector")) if not empty_selector(spec.get("selector")) else []
            if not pods:
                self.err(pm, f"selector {spec.get('selector')} selects no pod template")
            for ep in spec.get("podMetricsEndpoints") or []:
                if not any(p.port_number(ep.get("port")) is not None for p in pods):
                    self.err(pm, f"endpoint port {ep.get('port')!r} names no port of a pod it selects")
        for pod in self.pods:
            notes = (pod.obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}
            if notes.get("prometheus.io/scrape") == "true":
                port = notes.get("prometheus.io/port", "")
                if not port.isdigit() or pod.port_number(int(port)) is None:
                    self.err(pod.obj, f"prometheus.io/port {port!r} is not a port of the pod")
            for c in pod.containers:
                if (c.get("args") or [None])[0] not in ("decode", "infer", "track"):
                    continue
                listen = self.env_of(pod, c).get("SV_METRICS_LISTEN")
                host, _, port = (listen or "").rpartition(":")
                if not listen or host.strip("[]") in LOOPBACK:
                    self.err(pod.obj, f"container {c['name']}: metrics on loopback only (SV_METRICS_LISTEN "
                                      f"{listen or 'unset'}): Prometheus cannot scrape them")
                    continue
                names = [p.get("name") for p in c.get("ports") or [] if str(p["containerPort"]) == port]
                if not names:
                    self.err(pod.obj, f"container {c['name']}: SV_METRICS_LISTEN={listen} but the container "
                                      f"declares no port {port}")
                elif monitors and not any(selects(pm["spec"].get("selector"), pod.labels) and names[0] in
                                          [ep.get("port") for ep in pm["spec"].get("podMetricsEndpoints") or []]
                                          for pm in monitors):
                    self.err(pod.obj, f"container {c['name']}: no PodMonitor scrapes its metrics port {names[0]!r}")

    def check_networkpolicies(self):
        for np_ in self.by_kind.get("NetworkPolicy", []):
            spec = np_["spec"]
            targets = self.selected(spec.get("podSelector") or {}) if not empty_selector(spec.get("podSelector")) else self.pods
            if not targets:
                self.err(np_, f"podSelector {spec.get('podSelector')} selects no pod template")
            for direction, peers_key in (("ingress", "from"), ("egress", "to")):
                for i, rule in enumerate(spec.get(direction) or []):
                    for peer in rule.get(peers_key) or []:
                        if "podSelector" in peer and "namespaceSelector" not in peer and not empty_selector(peer["podSelector"]):
                            if not self.selected(peer["podSelector"]):
                                self.err(np_, f"{direction}[{i}].{peers_key} podSelector {peer['podSelector']} selects no pod template")
                    for port in rule.get("ports") or []:
                        ref = port.get("port")
                        if isinstance(ref, str):
                            where = targets if direction == "ingress" else self.pods
                            if not any(p.port_number(ref) is not None for p in where):
                                self.err(np_, f"{direction}[{i}] names port {ref!r}, which no selected pod declares")

    # --- who calls whom, and what the policies allow --------------------------
    def edges(self):
        """(caller Pod, callee Pod or None for loopback, port number, env text)."""
        out = []
        for pod in self.pods:
            for c in pod.containers:
                for key, value in self.env_of(pod, c).items():
                    if not ADDR_ENV.match(key) or not value:
                        continue
                    for addr in (a.strip() for a in value.split(",") if a.strip()):
                        out.extend(self.resolve(pod, c, key, addr))
        return out

    def resolve(self, pod, c, key, addr):
        url = urlsplit(addr if "://" in addr else "http://" + addr)
        host, port = url.hostname, url.port
        what = f"container {c['name']}: {key}={addr}"
        if port is None:
            self.err(pod.obj, f"{what}: no port")
            return []
        if host in LOOPBACK:
            if not any(n == port and cn != c["name"] for cn, _, n in pod.ports):
                self.err(pod.obj, f"{what}: no other container of the pod declares port {port}")
            return []
        labels = host.split(".")
        if len(labels) > 1 and labels[1] != self.namespace and labels[1] != "svc":
            return []  # another namespace: outside what this overlay can check
        svc = self.services.get(labels[0])
        if svc is None:
            self.err(pod.obj, f"{what}: no Service {labels[0]!r} in the namespace")
            return []
        sports = [p for p in svc["spec"].get("ports") or [] if p["port"] == port]
        if not sports:
            self.err(pod.obj, f"{what}: Service {labels[0]} has no port {port}")
            return []
        target = sports[0].get("targetPort", port)
        return [(pod, callee, callee.port_number(target), f"{key}={addr}")
                for callee in self.selected(svc["spec"].get("selector")) if callee.port_number(target) is not None]

    def policies_for(self, pod):
        out = []
        for np_ in self.by_kind.get("NetworkPolicy", []):
            spec = np_["spec"]
            types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if spec.get("egress") else []))
            if "Ingress" in types and selects(spec.get("podSelector") or {}, pod.labels):
                out.append(np_)
        return out

    def allowed(self, source, pod, port):
        """May `source` (a Pod, or EXTERNAL) open `port` on `pod`?"""
        policies = self.policies_for(pod)
        if not policies:
            return True
        for np_ in policies:
            for rule in np_["spec"].get("ingress") or []:
                if not self.port_matches(rule.get("ports"), pod, port):
                    continue
                peers = rule.get("from")
                if not peers:
                    return True
                for peer in peers:
                    if "ipBlock" in peer:
                        if source is EXTERNAL or ipaddress.ip_network(peer["ipBlock"]["cidr"]).prefixlen == 0:
                            return True
                        continue
                    if source is EXTERNAL:
                        if "namespaceSelector" in peer and empty_selector(peer["namespaceSelector"]):
                            return True
                        continue
                    ns_ok = "namespaceSelector" not in peer or selects(
                        peer["namespaceSelector"], {"kubernetes.io/metadata.name": self.namespace})
                    if ns_ok and selects(peer.get("podSelector") or {}, source.labels):
                        return True
        return False

    @staticmethod
    def port_matches(ports, pod, port):
        if not ports:
            return True
        for p in ports:
            ref = p.get("port")
            if ref is None:
                return True
            if isinstance(ref, int) and (ref == port or ref <= port <= p.get("endPort", ref)):
                return True
            if isinstance(ref, str) and pod.port_number(ref) == port:
                return True
        return False

    def check_traffic(self):
        edges = [e for e in self.edges() if e[1] is not None]
        calls = {(a.name, b.name, port) for a, b, port, _ in edges}
        for a, b, port, text in edges:
            if not self.allowed(a, b, port):
                self.err(a.obj, f"{text}: NetworkPolicy blocks {a.name} -> {b.name}:{port}")
        public = set()
        for s in self.by_kind.get("Service", []):
            if s["spec"].get("type") in ("LoadBalancer", "NodePort"):
                for p in self.selected(s["spec"].get("selector")):
                    for sp in s["spec"].get("ports") or []:
                        n = p.port_number(sp.get("targetPort", sp["port"]))
                        if n is not None:
                            public.add((p.name, n))
        for b in self.pods:
            if not self.policies_for(b):
                self.err(b.obj, "no ingress NetworkPolicy selects its pods: open to everyone")
                continue
            for _, _, port in b.ports:
                if self.allowed(EXTERNAL, b, port) and (b.name, port) not in public:
                    self.err(b.obj, f"port {port} is reachable from outside the namespace but no LoadBalancer/NodePort Service exposes it")
                if (b.name, port) in public:
                    continue
                for a in self.pods:
                    if a is not b and self.allowed(a, b, port) and (a.name, b.name, port) not in calls:
                        self.err(b.obj, f"NetworkPolicy admits {a.name} on port {port}, but {a.name} never calls it")

    def check_gateway_config(self):
        for pod in self.pods:
            for c in pod.containers:
                path = self.env_of(pod, c).get("SV_GATEWAY_CONFIG")
                if not path:
                    continue
                text = self.mounted_file(pod, c, path)
                if text is None:
                    self.err(pod.obj, f"container {c['name']}: SV_GATEWAY_CONFIG={path} is not a file of a mounted ConfigMap")
                    continue
                try:
                    cfg = tomllib.loads(text)
                except tomllib.TOMLDecodeError as e:
                    self.err(pod.obj, f"{path}: not TOML ({e})")
                    continue
                port = cfg.get("port", 7999)
                if port not in [p["containerPort"] for p in c.get("ports") or []]:
                    self.err(pod.obj, f"container {c['name']}: gateway.toml port {port} is not a container port")
                grace = pod.spec.get("terminationGracePeriodSeconds", 30)
                if cfg.get("shutdown_grace_s", 25.0) >= grace:
                    self.err(pod.obj, f"gateway.toml shutdown_grace_s {cfg.get('shutdown_grace_s', 25.0)} >= terminationGracePeriodSeconds {grace}")
                ss58 = (cfg.get("hotkey") or {}).get("ss58", "")
                if "REPLACE" in ss58:
                    self.notes.append("gateway.toml: hotkey.ss58 is still the placeholder; set your miner hotkey before deploying")

    def mounted_file(self, pod, c, path):
        volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
        for m in c.get("volumeMounts") or []:
            mount = m["mountPath"].rstrip("/") + "/"
            v = volumes.get(m["name"]) or {}
            if path.startswith(mount) and "configMap" in v:
                cm = self.configmaps.get(v["configMap"]["name"])
                if cm is not None:
                    return (cm.get("data") or {}).get(path[len(mount):])
        return None


def metric_names(text):
    return set(re.findall(r"\b(sv_[a-z0-9_]+)", text))


def known_metrics(root):
    """Every series name deploy/metrics.md lists, as queried (a histogram's
    _bucket, _sum and _count)."""
    path = os.path.join(root, "deploy/metrics.md")
    names = set()
    for line in open(path):
        row = re.match(r"^\| ((?:`sv_[a-z0-9_]+`(?:, )?)+) \| (counter|gauge|histogram) \|", line)
        if not row:
            continue
        for name in re.findall(r"`(sv_[a-z0-9_]+)`", row.group(1)):
            names |= {name + s for s in ("_bucket", "_sum", "_count")} if row.group(2) == "histogram" else {name}
    if not names:
        raise SystemExit(f"k8s-validate: found no series in the tables of {path}")
    return names


# Every SV_ variable the binary reads (filled from the clap arguments in
# CLI_ENV_SOURCES), and the upstream each gRPC subcommand cannot start without.
CLI_ENV = set()
UPSTREAM_ENV = {"infer": "SV_DECODE_ADDR", "track": "SV_INFER_ADDR", "gateway": "SV_TRACK_ADDR"}


# Switches that open the decode stage to local files or private networks:
# for tests on one machine, never for a deployed miner.
TEST_ONLY_ENV = ("SV_ALLOW_LOCAL_FILES", "SV_ALLOW_NET", "SV_ALLOW_PRIVATE_URLS")


# Where the binary's clap arguments are written: its own sources, and the
# inference settings it flattens in (defined once in sv-infer).
CLI_ENV_SOURCES = ("services/cli/src", "services/infer/src/settings")


def cli_env(root):
    names = set()
    for source in CLI_ENV_SOURCES:
        # Every file under the sources: a module may be a folder.
        for here, _, files in os.walk(os.path.join(root, source)):
            for name in sorted(files):
                if name.endswith(".rs"):
                    text = open(os.path.join(here, name)).read()
                    names |= set(re.findall(r'env = "(SV_[A-Z0-9_]+)"', text))
    return names


def repo_checks(root, known):
    errors = []
    a, b = os.path.join(root, "deploy/otel-collector.yaml"), os.path.join(root, "k8s/base/config/otel-collector.yaml")
    if open(a, "rb").read() != open(b, "rb").read():
        errors.append(f"{b} differs from {a} (copy it: cp {os.path.relpath(a, root)} {os.path.relpath(b, root)})")
    d1, d2 = (os.path.join(root, f"deploy/{n}.dockerignore") for n in ("Dockerfile", "Dockerfile.gpu"))
    if open(d1, "rb").read() != open(d2, "rb").read():
        errors.append(f"{d2} differs from {d1}")
    cfg = yaml.safe_load(open(a))
    for pname, pipe in (cfg.get("service", {}).get("pipelines") or {}).items():
        for section in ("receivers", "processors", "exporters"):
            for comp in pipe.get(section) or []:
                if comp not in (cfg.get(section) or {}):
                    errors.append(f"deploy/otel-collector.yaml: pipeline {pname} uses undefined {section[:-1]} {comp!r}")
    for ext in cfg.get("service", {}).get("extensions") or []:
        if ext not in (cfg.get("extensions") or {}):
            errors.append(f"deploy/otel-collector.yaml: undefined extension {ext!r}")
    dash_path = os.path.join(root, "deploy/grafana/scorevision.json")
    try:
        dash = json.load(open(dash_path))
    except ValueError as e:
        return errors + [f"{dash_path}: not JSON ({e})"]
    panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        errors.append(f"{dash_path}: duplicate panel ids")
    if not panels:
        errors.append(f"{dash_path}: no panels")
    for p in panels:
        for t in p.get("targets", []):
            for m in metric_names(t.get("expr", "")):
                if m not in known:
                    errors.append(f"{dash_path}: panel {p.get('title')!r} queries unknown metric {m!r}")
    return errors


def multi_doc_deletes(text):
    """Why a YAML file would crash kubectl 1.32's kustomize (v5.5.0), or None.

    Used as a patch, a file of several documents in which a `$patch: delete`
    is followed by another document makes kustomize v5.5.0 panic (nil pointer
    in resWrangler.GetMatchingResourcesByAnyId: the next document looks its
    target up among resources that still hold the deleted, now empty, one);
    kustomize 5.8 renders it. A delete that happens to be last renders, but
    any reordering breaks it, so the rule is simpler: a `$patch: delete`
    only in a file of its own, which renders the same with both."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return None  # not YAML kustomize could read either; its render fails
    deletes = [d for d in docs if isinstance(d, dict) and str(d.get("$patch", "")).lower() == "delete"]
    if len(docs) > 1 and deletes:
        return (f"{len(docs)} documents, {len(deletes)} of them `$patch: delete` "
                f"(kubectl 1.32's kustomize v5.5.0 panics on such a patch file: one object per file)")
    return None


def k8s_tree_checks(root):
    errors = []
    for d, _, files in os.walk(os.path.join(root, "k8s")):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                path = os.path.join(d, f)
                why = multi_doc_deletes(open(path).read())
                if why:
                    errors.append(f"{os.path.relpath(path, root)}: {why}")
    return errors


def render_key(obj):
    md = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), md.get("namespace") or "", md.get("name"))


def value_diffs(a, b, path, out, limit):
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(f"{sub} only in the first")
            elif k not in a:
                out.append(f"{sub} only in the second")
            else:
                value_diffs(a[k], b[k], sub, out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            value_diffs(x, y, f"{path}[{i}]", out, limit)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")


def compare_renders(a, b, limit=12):
    """Differences between two renders of one overlay ([] when they hold the
    same objects, whatever their order and formatting)."""
    out = []
    ka, kb = [render_key(o) for o in a], [render_key(o) for o in b]
    for keys, which in ((ka, "first"), (kb, "second")):
        dups = sorted({k for k in keys if keys.count(k) > 1}, key=str)
        if dups:
            out.append(f"the {which} render has {len(dups)} duplicate object(s): {dups[:3]}")
    ia, ib = dict(zip(ka, a)), dict(zip(kb, b))
    for k in ka:
        if k not in ib:
            out.append(f"{k[1]}/{k[3]} ({k[0]}) only in the first")
    for k in kb:
        if k not in ia:
            out.append(f"{k[1]}/{k[3]} ({k[0]}) only in the second")
    for k in ka:
        if k in ib:
            diffs = []
            value_diffs(ia[k], ib[k], "", diffs, limit)
            out += [f"{k[1]}/{k[3]}: {d}" for d in diffs]
        if len(out) >= limit:
            break
    return out[:limit]


# --- self-test: each break must be caught -------------------------------------
def find(objs, kind, name):
    for o in objs:
        if o.get("kind") == kind and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"{kind}/{name}")


def container(objs, name, cname=None):
    spec = find(objs, "Deployment", name)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == (cname or name))


def breaks():
    """(description, expected substring, mutation) on the cpu overlay's objects."""
    def env(c, key, value):
        for e in c["env"]:
            if e["name"] == key:
                e["value"] = value

    def np_peer(objs, name):
        return find(objs, "NetworkPolicy", name)["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]

    def rename_env(c, key, new):
        for e in c["env"]:
            if e["name"] == key:
                e["name"] = new

    return [
        ("a misspelt SV_ variable", "reads no such variable",
         lambda o: rename_env(container(o, "infer"), "SV_DECODE_ADDR", "SV_DECODE_ADRESS")),
        ("track without its upstream", "needs SV_INFER_ADDR",
         lambda o: container(o, "track")["env"].remove(
             next(e for e in container(o, "track")["env"] if e["name"] == "SV_INFER_ADDR"))),
        ("track without readinessProbe", "has no readinessProbe",
         lambda o: container(o, "track").pop("readinessProbe")),
        ("gateway without livenessProbe", "has no livenessProbe",
         lambda o: container(o, "gateway").pop("livenessProbe")),
        ("gateway without resource limits", "has no resources.limits.cpu",
         lambda o: container(o, "gateway")["resources"].pop("limits")),
        ("infer requests more than its limit", "> limits",
         lambda o: container(o, "infer")["resources"]["requests"].update(memory="64Gi")),
        ("decode may run as root", "runAsNonRoot is not true",
         lambda o: (find(o, "Deployment", "decode")["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot=False),
                    container(o, "decode")["securityContext"].pop("runAsNonRoot"))),
        ("track allows privilege escalation", "allowPrivilegeEscalation",
         lambda o: container(o, "track")["securityContext"].update(allowPrivilegeEscalation=True)),
        ("probe on an undeclared port", "is not a port of that container",
         lambda o: container(o, "track")["livenessProbe"]["grpc"].update(port=50052)),
        ("Service targetPort names no container port", "targetPort 'grpcx'",
         lambda o: find(o, "Service", "track")["spec"]["ports"][0].update(targetPort="grpcx")),
        ("Service selector matches nothing", "selects no pod template",
         lambda o: find(o, "Service", "infer")["spec"]["selector"].update({"app.kubernetes.io/component": "infr"})),
        ("PDB selector matches nothing", "selects no pod template",
         lambda o: find(o, "PodDisruptionBudget", "decode")["spec"]["selector"]["matchLabels"].update(
             {"app.kubernetes.io/component": "decoder"})),
        ("PDB blocks every eviction", "no pod could ever be evicted",
         lambda o: find(o, "PodDisruptionBudget", "gateway")["spec"].update(minAvailable=2)),
        ("ScaledObject targets no Deployment", "scaleTargetRef",
         lambda o: find(o, "ScaledObject", "infer")["spec"]["scaleTargetRef"].update(name="inference")),
        ("ScaledObject unknown field", "schema scaledobject",
         lambda o: find(o, "ScaledObject", "track")["spec"].update(maxReplicas=3)),
        ("ScaledObject queries an unknown metric", "unknown metric",
         lambda o: find(o, "ScaledObject", "track")["spec"]["triggers"][0]["metadata"].update(
             query="sum(sv_gateway_inflight)")),
        ("NetworkPolicy peer matches nothing", "selects no pod template",
         lambda o: np_peer(o, "infer-from-track").update({"app.kubernetes.io/component": "trak"})),
        ("NetworkPolicy admits the wrong caller", "never calls it",
         lambda o: np_peer(o, "track-from-gateway").update({"app.kubernetes.io/component": "infer"})),
        ("a stage reachable from outside", "reachable from outside",
         lambda o: find(o, "NetworkPolicy", "decode-from-infer")["spec"]["ingress"][0].pop("from")),
        ("no default deny", "open to everyone",
         lambda o: [o.remove(find(o, "NetworkPolicy", n)) for n in ("default-deny-ingress", "otel-collector-from-scorevision")]),
        ("upstream address names no Service", "no Service 'infr'",
         lambda o: env(container(o, "track"), "SV_INFER_ADDR", "http://infr:50051")),
        ("decode reads local files for its callers", "is for tests only",
         lambda o: container(o, "decode")["env"].append({"name": "SV_ALLOW_LOCAL_FILES", "value": "true"})),
        ("decode fetches from private networks", "is for tests only",
         lambda o: container(o, "decode").setdefault("args", []).append("--allow-net=10.0.0.0/8")),
        ("a stage left on loopback", "listens on loopback only",
         lambda o: container(o, "track")["env"].remove(
             next(e for e in container(o, "track")["env"] if e["name"] == "SV_LISTEN"))),
        ("SV_LISTEN on an undeclared port", "SV_LISTEN=0.0.0.0:50052",
         lambda o: env(container(o, "decode"), "SV_LISTEN", "0.0.0.0:50052")),
        ("public Service loses the source IP", "externalTrafficPolicy",
         lambda o: find(o, "Service", "gateway")["spec"].update(externalTrafficPolicy="Cluster")),
        ("missing ConfigMap", "does not exist",
         lambda o: o.remove(find(o, "ConfigMap", container(o, "gateway")["envFrom"][0]["configMapRef"]["name"]))),
        ("unpinned image", "no pinned tag",
         lambda o: container(o, "track").update(image="ghcr.io/your-org/scorevision")),
        ("a stage's metrics on loopback", "metrics on loopback only",
         lambda o: env(container(o, "track"), "SV_METRICS_LISTEN", "127.0.0.1:9463")),
        ("metrics on an undeclared port", "SV_METRICS_LISTEN=0.0.0.0:9999",
         lambda o: env(container(o, "decode"), "SV_METRICS_LISTEN", "0.0.0.0:9999")),
        ("annotation names an undeclared port", "prometheus.io/port '9499'",
         lambda o: find(o, "Deployment", "infer")["spec"]["template"]["metadata"]["annotations"].update(
             {"prometheus.io/port": "9499"})),
        ("PodMonitor endpoint names no port", "names no port of a pod",
         lambda o: find(o, "PodMonitor", "scorevision")["spec"]["podMetricsEndpoints"][1].update(port="metric")),
        ("no PodMonitor scrapes a stage", "no PodMonitor scrapes",
         lambda o: find(o, "PodMonitor", "scorevision")["spec"]["podMetricsEndpoints"].pop(1)),
        ("PodMonitor unknown field", "schema podmonitor",
         lambda o: find(o, "PodMonitor", "scorevision")["spec"].update(endpoints=[])),
    ]


def render_breaks():
    """(description, expected substring, mutation of the second render)."""
    def env_value(o, key, value):
        cm = next(x for x in o if x.get("kind") == "ConfigMap" and key in (x.get("data") or {}))
        cm["data"][key] = value

    return [
        ("a render without one object", "only in the first",
         lambda o: o.remove(find(o, "Service", "track"))),
        ("a render with one object more", "only in the second",
         lambda o: o.append({**copy.deepcopy(find(o, "Service", "track")),
                             "metadata": {"name": "track2", "namespace": "scorevision"}})),
        ("a render with one value changed", "'cpu' != 'tensorrt'",
         lambda o: env_value(o, "SV_PROVIDERS", "tensorrt")),
        ("a render with a field more", "only in the second",
         lambda o: container(o, "track").update(workingDir="/tmp")),
        ("a render with a container more", "1 items != 2",
         lambda o: find(o, "Deployment", "infer")["spec"]["template"]["spec"]["containers"].append(
             copy.deepcopy(container(o, "infer")))),
        ("a render with a number as a string", "50051 != '50051'",
         lambda o: find(o, "Service", "track")["spec"]["ports"][0].update(port="50051")),
    ]


def compare_self_test(objects):
    failures = []
    if compare_renders(objects, list(reversed(copy.deepcopy(objects)))):
        failures.append("self-test: the same objects in another order were reported as a different render")
    for desc, expect, mutate in render_breaks():
        other = copy.deepcopy(objects)
        mutate(other)
        diffs = compare_renders(objects, other)
        if not any(expect in d for d in diffs):
            failures.append(f"self-test: {desc!r} was not told apart from the original render "
                            f"(expected a difference containing {expect!r}; got {diffs[:3]})")
    two_docs = ("$patch: delete\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\n"
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n")
    if not multi_doc_deletes(two_docs):
        failures.append("self-test: a multi-document `$patch: delete` file was not caught")
    if multi_doc_deletes(two_docs.split("---\n")[0]):
        failures.append("self-test: a one-document `$patch: delete` file was refused")
    return len(render_breaks()) + 3, failures


def self_test(name, objects, known):
    failures = []
    for desc, expect, mutate in breaks():
        objs = copy.deepcopy(objects)
        mutate(objs)
        errs = Overlay(name, objs, known).run()
        if not any(expect in e for e in errs):
            failures.append(f"self-test: break {desc!r} was not caught (expected an error containing {expect!r}; got {errs[:3]})")
    return len(breaks()), failures


def main(argv):
    if len(argv) >= 2 and argv[0] == "strip-crds":
        objs = load(argv[1])
        keep = [o for o in objs if (o.get("apiVersion"), o.get("kind")) not in CRD_SCHEMAS]
        skipped = sorted({f"{o['kind']} ({o['apiVersion']})" for o in objs if o not in keep})
        if skipped:
            print(f"  kubernetes-validate skips CRD kinds {', '.join(skipped)}: checked against scripts/k8s/schemas instead",
                  file=sys.stderr)
        yaml.safe_dump_all(keep, sys.stdout, sort_keys=False)
        return 0
    if len(argv) >= 2 and argv[0] == "typo":
        objs = [o for o in load(argv[1]) if (o.get("apiVersion"), o.get("kind")) not in CRD_SCHEMAS]
        d = next(o for o in objs if o["kind"] == "Deployment")
        c = d["spec"]["template"]["spec"]["containers"][0]
        c["readinesProbe"] = c.pop("readinessProbe")
        yaml.safe_dump_all(objs, sys.stdout, sort_keys=False)
        return 0
    if len(argv) == 3 and argv[0] == "same":
        (la, pa), (lb, pb) = (arg.split("=", 1) for arg in argv[1:])
        if open(pa, "rb").read() == open(pb, "rb").read():
            print(f"  {la} and {lb}: byte-identical")
            return 0
        diffs = compare_renders(load(pa), load(pb))
        if not diffs:
            print(f"  {la} and {lb}: the same objects (formatting or order differs)")
            return 0
        for d in diffs:
            print(f"k8s-validate: {la} vs {lb}: {d}", file=sys.stderr)
        return 1
    if len(argv) >= 3 and argv[0] == "check" and argv[1] == "--root":
        root = argv[2]
        known = known_metrics(root)
        CLI_ENV.update(cli_env(root))
        errors, notes, total, crds, first = [], [], 0, 0, None
        for arg in argv[3:]:
            name, path = arg.split("=", 1)
            objs = load(path)
            ov = Overlay(name, objs, known)
            errors += ov.run()
            notes += ov.notes
            total += len(objs)
            crds += sum((o.get("apiVersion"), o.get("kind")) in CRD_SCHEMAS for o in objs)
            if name == "cpu":
                first = (name, objs)
        errors += repo_checks(root, known)
        errors += k8s_tree_checks(root)
        n = 0
        if first is None:
            errors.append("self-test: needs the cpu overlay (its breaks are written against it)")
        elif not errors:
            n, failures = self_test(first[0], first[1], known)
            m, more = compare_self_test(first[1])
            n += m
            errors += failures + more
        for e in errors:
            print(f"k8s-validate: {e}", file=sys.stderr)
        if errors:
            print(f"k8s-validate: FAILED, {len(errors)} problem(s)", file=sys.stderr)
            return 1
        for note in sorted(set(notes)):
            print(f"  note: {note}")
        print(f"  semantic checks passed; {crds} CRD objects valid against scripts/k8s/schemas; "
              f"self-test: {n}/{n} deliberate breaks caught")
        print(f"k8s: {len(argv) - 3} overlays, {total} objects valid")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
