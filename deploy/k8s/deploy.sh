#!/usr/bin/env bash
# Deploys Flightwatch on a local kind cluster (as the seed's kubernetes/deploy.sh).
#   deploy/k8s/deploy.sh [up] [--port-forward|--pf] [--ingress]
#   deploy/k8s/deploy.sh down | stop-pf | -h
# Needs docker (with a running daemon), kind and kubectl; --ingress also openssl.
# Variables (FLIGHTWATCH_*, never FW_*: those are configuration keys):
#   FLIGHTWATCH_KIND_CLUSTER   kind cluster name (flightwatch)
#   FLIGHTWATCH_IMAGE          image tag built and loaded (flightwatch:0.1.0, the tag the
#                              manifests and deploy/compose use)
#   FLIGHTWATCH_BUILD_JOBS     parallel compile jobs in the image build (2)
#   FLIGHTWATCH_ROLLOUT_TIMEOUT  wait per workload (300s)
#   FLIGHTWATCH_INGRESS_NGINX_MANIFEST  ingress-nginx manifest for kind
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="${FLIGHTWATCH_KIND_CLUSTER:-flightwatch}"
image="${FLIGHTWATCH_IMAGE:-flightwatch:0.1.0}"
namespace=flightwatch
timeout="${FLIGHTWATCH_ROLLOUT_TIMEOUT:-300s}"
ingress_manifest="${FLIGHTWATCH_INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.11.3/deploy/static/provider/kind/deploy.yaml}"
pf_pids="${TMPDIR:-/tmp}/flightwatch-port-forward.$cluster.pids"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [ACTION] [OPTIONS]

Actions:
  up (default)        create the kind cluster "$cluster" if missing, build the image
                      $image (deploy/docker/Dockerfile), load it into kind, apply
                      deploy/k8s (kubectl apply -k) and wait for every rollout
  down                delete the kind cluster "$cluster"
  stop-pf             stop the port-forwards started by --port-forward

Options for up:
  --port-forward, --pf  forward the gateway to http://localhost:8080 and Prometheus to
                        http://localhost:9090 (in the background; stop with stop-pf)
  --ingress             install the NGINX Ingress Controller, create the self-signed TLS
                        secret flightwatch-tls (CN localhost) and serve the Ingress on
                        https://localhost (HTTP redirects to HTTPS)
  -h, --help            this help

Needs docker (daemon running), kind and kubectl; --ingress also openssl.
USAGE
}

die() { echo "deploy.sh: $*" >&2; exit 1; }

need() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      case "$tool" in
        docker) die "docker is not installed (https://docs.docker.com/engine/install/)" ;;
        kind) die "kind is not installed (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" ;;
        kubectl) die "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)" ;;
        *) die "$tool is not installed" ;;
      esac
    fi
  done
  if [[ " $* " == *" docker "* ]] && ! docker info >/dev/null 2>&1; then
    die "docker is installed but its daemon does not answer (is it running? may this user use it?)"
  fi
}

stop_port_forward() {
  [ -f "$pf_pids" ] || { echo "deploy.sh: no port-forward running"; return 0; }
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$pf_pids"
  rm -f "$pf_pids"
  echo "deploy.sh: port-forwards stopped"
}

start_port_forward() {
  stop_port_forward >/dev/null
  kubectl -n "$namespace" port-forward svc/flightwatch-gateway 8080:8080 >/dev/null 2>&1 &
  echo $! >>"$pf_pids"
  kubectl -n "$namespace" port-forward svc/prometheus 9090:9090 >/dev/null 2>&1 &
  echo $! >>"$pf_pids"
  echo "deploy.sh: gateway on http://localhost:8080, Prometheus on http://localhost:9090 (stop: $0 stop-pf)"
}

install_ingress() {
  need openssl
  echo "deploy.sh: installing the NGINX Ingress Controller"
  kubectl apply -f "$ingress_manifest"
  kubectl -n ingress-nginx wait --for=condition=Ready pod \
    -l app.kubernetes.io/component=controller --timeout="$timeout"
  if ! kubectl -n "$namespace" get secret flightwatch-tls >/dev/null 2>&1; then
    local dir
    dir="$(mktemp -d)"
    openssl req -x509 -nodes -days 365 -newkey rsa:2048 -keyout "$dir/tls.key" \
      -out "$dir/tls.crt" -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
      2>/dev/null
    kubectl -n "$namespace" create secret tls flightwatch-tls \
      --cert="$dir/tls.crt" --key="$dir/tls.key"
    rm -rf "$dir"
  fi
}

up() {
  local port_forward=0 ingress=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --port-forward|--pf) port_forward=1 ;;
      --ingress) ingress=1 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown option '$1'" ;;
    esac
    shift
  done
  need docker kind kubectl

  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    echo "deploy.sh: kind cluster $cluster exists"
  else
    kind create cluster --name "$cluster" --config "$here/kind-config.yaml"
  fi
  kubectl config use-context "kind-$cluster" >/dev/null

  docker build -f "$root/deploy/docker/Dockerfile" \
    --build-arg FLIGHTWATCH_BUILD_JOBS="${FLIGHTWATCH_BUILD_JOBS:-2}" -t "$image" "$root"
  kind load docker-image "$image" --name "$cluster"

  kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
  if [ "$ingress" = 1 ]; then install_ingress; fi
  if [ "$image" != "flightwatch:0.1.0" ]; then
    # The manifests name flightwatch:0.1.0: apply them with the image asked for.
    kubectl kustomize "$here" | sed "s#image: flightwatch:0.1.0#image: $image#" | kubectl apply -f -
  else
    kubectl apply -k "$here"
  fi

  for w in statefulset/postgres statefulset/kafka deployment/prometheus \
           deployment/flightwatch-a deployment/flightwatch-b deployment/flightwatch-c; do
    kubectl -n "$namespace" rollout status "$w" --timeout="$timeout"
  done
  kubectl -n "$namespace" get pods -o wide

  if [ "$port_forward" = 1 ]; then start_port_forward; fi
  if [ "$ingress" = 1 ]; then
    echo "deploy.sh: Ingress on https://localhost (self-signed: curl -k https://localhost/user-manager/ping)"
  fi
  echo "deploy.sh: done"
}

action="${1:-up}"
case "$action" in
  -h|--help|help) usage ;;
  up) shift; up "$@" ;;
  --*) up "$@" ;;
  down)
    need kind
    stop_port_forward >/dev/null
    kind delete cluster --name "$cluster"
    ;;
  stop-pf) stop_port_forward ;;
  *) usage >&2; die "unknown action '$action'" ;;
esac
