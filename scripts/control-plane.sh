#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for tests and the demo: etcd, kube-apiserver (RBAC on) and
# kube-controller-manager (garbage collector and namespace controllers), with the CRDs from crds/ and the
# operator's RBAC from the chart installed.
#
#   scripts/control-plane.sh start DIR BIN   start everything; state, logs and kubeconfigs go to DIR
#   scripts/control-plane.sh stop DIR        stop every process started into DIR, by PID
#
# After start, DIR holds admin.kubeconfig (system:masters), operator.kubeconfig (the operator's
# ServiceAccount identity, bound only to the chart's RBAC) and env (shell variables).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
operator_namespace=obbackup-system
operator_account=ob-backup-operator

log() { printf '[control-plane] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # description, seconds, pid file of the process it waits on, command...
  local what=$1 seconds=$2 pidfile=$3; shift 3
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$(basename "$pidfile" .pid) exited while waiting for $what; its log: ${pidfile%.pid}.log"
      tail -n 5 "${pidfile%.pid}.log" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${seconds}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

kubeconfig() { # file, user, token, server, ca
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $4
    certificate-authority: $5
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2
  context: {cluster: local, user: $2}
current-context: $2
EOF
}

# The operator's RBAC, from the files the Helm chart renders its ClusterRole and Role from.
rbac_manifest() {
  local rules=$repo/charts/ob-backup-operator/files
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $operator_namespace}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: $operator_account, namespace: $operator_namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ob-backup-operator}
rules:
$(sed 's/^/  /' "$rules/operator-rules.yaml")
$(sed 's/^/  /' "$rules/ob-operator-rules.yaml")
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ob-backup-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ob-backup-operator}
subjects:
- {kind: ServiceAccount, name: $operator_account, namespace: $operator_namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ob-backup-operator-leader-election, namespace: $operator_namespace}
rules:
$(sed 's/^/  /' "$rules/leader-election-rules.yaml")
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ob-backup-operator-leader-election, namespace: $operator_namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ob-backup-operator-leader-election}
subjects:
- {kind: ServiceAccount, name: $operator_account, namespace: $operator_namespace}
EOF
}

start() {
  local dir=$1 bin=$2
  mkdir -p "$dir/pki" "$dir/etcd"
  local t0; t0=$(date +%s)
  local etcd_port peer_port api_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)

  openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  local admin_token operator_token
  admin_token=$(openssl rand -hex 24); operator_token=$(openssl rand -hex 24)
  cat >"$dir/pki/tokens.csv" <<EOF
$admin_token,admin,admin-uid,"system:masters"
$operator_token,system:serviceaccount:$operator_namespace:$operator_account,operator-uid,"system:serviceaccounts,system:serviceaccounts:$operator_namespace,system:authenticated"
EOF

  "$bin/etcd" --name default --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --unsafe-no-fsync=true --log-level=warn \
    >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"

  "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$dir/pki" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
    --authorization-mode RBAC --token-auth-file "$dir/pki/tokens.csv" \
    --disable-admission-plugins ServiceAccount \
    --enable-admission-plugins OwnerReferencesPermissionEnforcement \
    >"$dir/kube-apiserver.log" 2>&1 &
  echo $! >"$dir/kube-apiserver.pid"

  local server="https://127.0.0.1:$api_port" ca="$dir/pki/apiserver.crt"
  wait_for "kube-apiserver certificate" 60 "$dir/kube-apiserver.pid" test -s "$ca"
  kubeconfig "$dir/admin.kubeconfig" admin "$admin_token" "$server" "$ca"
  kubeconfig "$dir/operator.kubeconfig" operator "$operator_token" "$server" "$ca"
  local kubectl=("$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig")
  wait_for "kube-apiserver /readyz" 180 "$dir/kube-apiserver.pid" "${kubectl[@]}" get --raw /readyz
  log "kube-apiserver ready on $server after $(( $(date +%s) - t0 ))s"

  "${kubectl[@]}" apply --server-side -f "$repo/crds/" >/dev/null
  "${kubectl[@]}" wait --for condition=Established --timeout 60s crd --all >/dev/null
  rbac_manifest | "${kubectl[@]}" apply --server-side -f - >/dev/null
  # ob-operator's own CRDs, when tools/ob-operator/crds.sh could fetch them (the tests beside ob-operator
  # skip otherwise).
  local ob_operator_crds=${OBBACKUP_OB_OPERATOR_CRDS:-}
  if [ -n "$ob_operator_crds" ]; then
    "${kubectl[@]}" apply --server-side -f "$ob_operator_crds" >/dev/null
    "${kubectl[@]}" wait --for condition=Established --timeout 60s crd --all >/dev/null
    log "ob-operator's CRDs installed from $ob_operator_crds"
  fi

  "$bin/kube-controller-manager" --kubeconfig "$dir/admin.kubeconfig" \
    --controllers garbage-collector-controller,namespace-controller \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    >"$dir/kube-controller-manager.log" 2>&1 &
  echo $! >"$dir/kube-controller-manager.pid"

  cat >"$dir/env" <<EOF
OBBACKUP_ADMIN_KUBECONFIG=$dir/admin.kubeconfig
OBBACKUP_OPERATOR_KUBECONFIG=$dir/operator.kubeconfig
OBBACKUP_OPERATOR_NAMESPACE=$operator_namespace
OBBACKUP_KUBECTL=$bin/kubectl
OBBACKUP_OB_OPERATOR_CRDS=$ob_operator_crds
EOF
  log "control plane up in $(( $(date +%s) - t0 ))s (state in $dir)"
}

stop() {
  local dir=$1
  for name in kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/$name.pid" ] || continue
    local pid; pid=$(cat "$dir/$name.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
  done
}

case "${1:-}" in
  start) start "${2:?state directory}" "${3:?binary directory}" ;;
  stop) stop "${2:?state directory}" ;;
  *) echo "usage: $0 start DIR BIN | stop DIR" >&2; exit 2 ;;
esac
