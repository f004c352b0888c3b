#!/usr/bin/env bash
# Renders the base and every overlay, validates each against the Kubernetes schemas,
# and checks that every name a manifest refers to exists.
#   bash deploy/k8s/validate.sh
# Needs kubectl (for its built-in kustomize) and uv; uses no cluster.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The Kubernetes versions to validate against: the oldest this targets and the newest.
versions=(1.29.0 1.34.0)

for dir in base overlays/dev overlays/production; do
  name="${dir//\//-}"
  echo "== $dir"
  kubectl kustomize "$here/$dir" >"$out/$name.yaml"
  for version in "${versions[@]}"; do
    uvx --quiet kubernetes-validate==1.37.0 --strict --quiet -k "$version" "$out/$name.yaml"
  done
done

# Cross-references. Names the operator creates out of band are listed as external.
uv run --quiet --no-project --with pyyaml python - "$out" <<'PY'
import sys
from pathlib import Path

import yaml

OUT = Path(sys.argv[1])
# What production expects to exist before `kubectl apply` (deploy/README.md, "Secrets").
EXTERNAL_SECRETS = {
    "identity-database", "crm-core-database", "messaging-database",
    "billing-database", "privacy-database", "crm-nats", "crm-redis", "gateway-tls",
    "messaging-webhooks",
}
failures = []


def check(overlay, docs, external):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    pods = []  # (owner, labels, pod spec)
    for kind in ("Deployment", "StatefulSet"):
        for name, doc in by_kind.get(kind, {}).items():
            template = doc["spec"]["template"]
            labels = template["metadata"]["labels"]
            selector = doc["spec"]["selector"]["matchLabels"]
            if any(labels.get(k) != v for k, v in selector.items()):
                failures.append(f"{overlay}: {kind}/{name} selector does not match its pods")
            pods.append((f"{kind}/{name}", labels, template["spec"]))

    def exists(kind, name, optional=False):
        if name in by_kind.get(kind, {}) or optional:
            return
        if kind == "Secret" and name in external:
            return
        failures.append(f"{overlay}: missing {kind}/{name}")

    for owner, _, spec in pods:
        exists("ServiceAccount", spec.get("serviceAccountName", "default"),
               optional="serviceAccountName" not in spec)
        for c in spec.get("initContainers", []) + spec["containers"]:
            for source in c.get("envFrom", []):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        ref = source[key]
                        exists(kind, ref["name"], ref.get("optional", False))
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    exists("Secret", ref["name"], ref.get("optional", False))
                    secret = by_kind.get("Secret", {}).get(ref["name"])
                    if secret and ref["key"] not in {**secret.get("data", {}),
                                                     **secret.get("stringData", {})}:
                        failures.append(f"{overlay}: {owner}: Secret {ref['name']} has no "
                                        f"key {ref['key']}")

    def selects(selector, labels):
        return all(labels.get(k) == v for k, v in selector.items())

    for name, svc in by_kind.get("Service", {}).items():
        matched = [p for p in pods if selects(svc["spec"]["selector"], p[1])]
        if not matched:
            failures.append(f"{overlay}: Service/{name} selects no pods")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for owner, _, spec in matched:
                names = {p.get("name") for c in spec["containers"] for p in c.get("ports", [])}
                numbers = {p["containerPort"] for c in spec["containers"] for p in c["ports"]}
                if target not in names | numbers:
                    failures.append(f"{overlay}: Service/{name} port {target} not on {owner}")
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for name, doc in by_kind.get(kind, {}).items():
            selector = (doc["spec"].get("selector") or doc["spec"]["podSelector"])
            if selector and not any(selects(selector.get("matchLabels", {}), p[1])
                                    for p in pods):
                failures.append(f"{overlay}: {kind}/{name} selects no pods")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        exists(hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])
    for name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                exists("Service", path["backend"]["service"]["name"])
        for tls in ing["spec"].get("tls", []):
            exists("Secret", tls["secretName"])
    # One replica per workload in dev, and no autoscaler there.
    if overlay == "overlays-dev":
        if by_kind.get("HorizontalPodAutoscaler"):
            failures.append("overlays-dev: has a HorizontalPodAutoscaler")
        for name, doc in by_kind.get("Deployment", {}).items():
            if doc["spec"].get("replicas") != 1:
                failures.append(f"overlays-dev: Deployment/{name} is not at one replica")


for overlay, external in (("overlays-dev", set()), ("overlays-production", EXTERNAL_SECRETS)):
    docs = [d for d in yaml.safe_load_all((OUT / f"{overlay}.yaml").read_text()) if d]
    check(overlay, docs, external)
    print(f"== {overlay}: {len(docs)} objects cross-checked")

if failures:
    print("\n".join(failures))
    sys.exit(1)
PY
echo "all manifests valid"
