#!/usr/bin/env bash
# End-to-end on kind: the operator's image in a real cluster, installed by the Helm chart, against the
# Confluent Cloud emulator and moto running on this machine.
#
#   hack/e2e-kind.sh            (make e2e-kind)
#
# Needs: a running Docker engine, kind, kubectl, helm, and the project's .venv (make venv).
# Steps: build the image; create the kind cluster (or reuse it); load the image; start moto and the
# emulator on the kind network's gateway address, which pods reach through the node's default route;
# install the chart (namespaced mode, watching one namespace) pointed at them; reconcile the S3 sink
# example to Ready inside the cluster; then run tests/operator against the same cluster
# (CCLOUD_TEST_CLUSTER=existing: those tests start their own out-of-cluster operators in their own
# namespaces, which the in-cluster operator does not watch).
#
# Linux: the gateway address (e.g. 172.18.0.1) is an address of this host, so the servers bind to it.
# Docker Desktop (macOS, Windows): set E2E_HOST_BIND=0.0.0.0 E2E_HOST_ADDRESS=host.docker.internal.
#
# Environment: KIND_CLUSTER (default ccloud-operator-e2e), KEEP_CLUSTER=1 keeps a cluster this script
# created, PYTEST_ARGS passes extra arguments to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER:-ccloud-operator-e2e}
IMAGE=ccloud-operator:e2e
NAMESPACE=ccloud-e2e
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
WORK=$(mktemp -d)
export KUBECONFIG="$WORK/kubeconfig"

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is not on PATH" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "e2e-kind: no Docker engine answers (docker info failed)" >&2; exit 2; }
[[ -x "$PY" ]] || { echo "e2e-kind: $PY missing: run make venv" >&2; exit 2; }

pids=()
created=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ $created == 1 && ${KEEP_CLUSTER:-0} != 1 ]]; then kind delete cluster --name "$CLUSTER" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }

echo "--- building $IMAGE"
# A registry base by default here: a kind user has one (make image's local Debian base needs root).
"$VENV/bin/ccloud-sandbox" image build --tag "$IMAGE" --base "${E2E_BASE_IMAGE:-python:3.11.11-slim-bookworm}"

echo "--- kind cluster $CLUSTER"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --wait 120s
  created=1
fi
kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
kind load docker-image "$IMAGE" --name "$CLUSTER"

# The IPv4 gateway of the "kind" Docker network: this host, as seen from the nodes and their pods.
gateway=$(docker network inspect kind --format '{{range .IPAM.Config}}{{.Gateway}} {{end}}' | tr ' ' '\n' | grep -m1 -E '^[0-9.]+$')
HOST_BIND=${E2E_HOST_BIND:-$gateway}
HOST_ADDRESS=${E2E_HOST_ADDRESS:-$gateway}
# How this script and the emulator reach the servers themselves.
LOCAL_ADDRESS=$([[ $HOST_BIND == 0.0.0.0 ]] && echo 127.0.0.1 || echo "$HOST_BIND")

echo "--- moto and the Confluent emulator on $HOST_BIND (pods use $HOST_ADDRESS)"
moto_port=$(free_port)
"$VENV/bin/moto_server" --host "$HOST_BIND" --port "$moto_port" >"$WORK/moto.log" 2>&1 &
pids+=($!)
moto="http://$HOST_ADDRESS:$moto_port"
for _ in $(seq 100); do
  "$PY" -c 'import sys, httpx; httpx.get(sys.argv[1], timeout=1)' "http://$LOCAL_ADDRESS:$moto_port" 2>/dev/null && break
  sleep 0.1
done
"$VENV/bin/ccloud-sandbox" confluent serve --host "$HOST_BIND" --port 0 --provisioning-seconds 1 \
  --aws-endpoint "http://$LOCAL_ADDRESS:$moto_port" >"$WORK/emulator.json" 2>"$WORK/emulator.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$WORK/emulator.json" ]] && break; sleep 0.1; done
read -r emulator_port api_key api_secret ENVIRONMENT_ID KAFKA_CLUSTER_ID SERVICE_ACCOUNT_ID < <("$PY" -c '
import json, sys
info = json.loads(open(sys.argv[1]).readline())
print(info["url"].rsplit(":", 1)[1], info["api_key"], info["api_secret"],
      info["environment_id"], info["kafka_cluster_id"], info["service_account_id"])' "$WORK/emulator.json")
export ENVIRONMENT_ID KAFKA_CLUSTER_ID SERVICE_ACCOUNT_ID
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$PY" -c '
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket="ccloud-demo-orders-archive")
' "http://$LOCAL_ADDRESS:$moto_port"

echo "--- installing the chart (watching $NAMESPACE)"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NAMESPACE" create secret generic confluent-cloud-api-key \
  --from-literal=api-key="$api_key" --from-literal=api-secret="$api_secret" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NAMESPACE" create secret generic aws-dev-keys \
  --from-literal=AWS_ACCESS_KEY_ID=testing --from-literal=AWS_SECRET_ACCESS_KEY=testing \
  --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install ccloud-operator helm/ccloud-operator --namespace "$NAMESPACE" --wait --timeout 3m \
  --set image.repository=ccloud-operator --set image.tag=e2e --set image.pullPolicy=Never \
  --set-json "watchNamespaces=[\"$NAMESPACE\"]" \
  --set cloudCredentials.existingSecret=confluent-cloud-api-key \
  --set aws.credentialsSecret=aws-dev-keys --set aws.endpointUrl="$moto" \
  --set operator.confluentUrl="http://$HOST_ADDRESS:$emulator_port" --set operator.resyncInterval=5

echo "--- the S3 sink example, reconciled by the in-cluster operator"
for file in examples/s3-sink/providerintegration.yaml examples/s3-sink/managedconnector.yaml; do
  "$PY" -c 'import os, sys; sys.stdout.write(os.path.expandvars(open(sys.argv[1]).read()))' "$file" \
    | sed "s/namespace: ccloud-demo/namespace: $NAMESPACE/" | kubectl apply -f -
done
kubectl -n "$NAMESPACE" wait providerintegration/s3-archive --for=condition=Ready --timeout=180s
kubectl -n "$NAMESPACE" wait managedconnector/orders-to-s3 --for=condition=Ready --timeout=180s
kubectl -n "$NAMESPACE" get providerintegrations,managedconnectors

echo "--- tests/operator against the kind cluster"
CCLOUD_TEST_CLUSTER=existing "$PY" -m pytest tests/operator ${PYTEST_ARGS:-}

echo "--- deleting the example: finalizers need the operator, so before the chart goes"
kubectl -n "$NAMESPACE" delete managedconnector/orders-to-s3 providerintegration/s3-archive --timeout=120s
