#!/usr/bin/env bash
# The local demo: a real Kubernetes control plane on 127.0.0.1, the operator running as its ServiceAccount,
# and the examples applied in namespace `demo`. Leaves everything running until Ctrl-C.
#
# obsim, the OceanBase simulator, runs beside it with two tenants (simulated clock at real speed) for the
# physical backups, an S3 server for the second copies, and OceanBase seekdb (a real SQL engine) for a logical
# backup and its restore.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(tools/k8s/build.sh | tail -n 1)
s3_server=$(tools/s3/build.sh | tail -n 1)
seekdb=$(tools/seekdb/build.sh | tail -n 1)
cargo build --locked --bins
dir=$(mktemp -d "${TMPDIR:-/tmp}/obbackup-demo.XXXXXX")
operator_pid=
obsim_pid=
s3_pid=
seekdb_pid=
cleanup() {
  [ -n "$obsim_pid" ] && kill "$obsim_pid" 2>/dev/null || true
  [ -n "$seekdb_pid" ] && kill "$seekdb_pid" 2>/dev/null || true
  [ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null || true
  if [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null; then
    for _ in $(seq 1 20); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$operator_pid" 2>/dev/null || true
  fi
  scripts/control-plane.sh stop "$dir"
  echo "demo stopped; logs were in $dir" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripts/control-plane.sh start "$dir" "$bin"

# The share every OBServer mounts (obsim writes the file:// backup sets there; the operator reads them there
# to make the second copies), and an S3 server (versitygw, as users run on premises) holding the second copies.
mkdir -p "$dir/share" "$dir/s3/offsite"
"$s3_server" --access demo-access-id --secret demo-access-key-only-for-the-demo --port 127.0.0.1:7070 \
  posix "$dir/s3" >"$dir/s3.log" 2>&1 &
s3_pid=$!
OBSIM_PASSWORD=demo-only-password target/debug/obsim --listen 127.0.0.1:2881 --control 127.0.0.1:2886 --speed 1 \
  --tenant tenant1:10737418240 --tenant tenant2:2147483648 --file-root "$dir/share" 2>"$dir/obsim.log" &
obsim_pid=$!
for _ in $(seq 1 50); do grep -q 'listening on' "$dir/obsim.log" && break; sleep 0.1; done
obsim_sql=$(sed -n 's/.*listening on \([0-9.:]*\);.*/\1/p' "$dir/obsim.log")
obsim_control=$(sed -n 's/.*control API on \(http:[^ ]*\).*/\1/p' "$dir/obsim.log")

# A real OceanBase SQL engine (seekdb) with a small `shop` database, for the logical backup: obsim simulates
# the backup views, not user tables. seekdb has one tenant, sys, so its users log in as user@sys.
mkdir -p "$dir/seekdb"
"$seekdb/seekdb" --nodaemon --port 2890 --base-dir "$dir/seekdb" --parameter datafile_size=256M \
  --parameter log_disk_size=2G --parameter memory_limit=2G >"$dir/seekdb.log" 2>&1 &
seekdb_pid=$!
"$seekdb/bin/python" - <<'PY'
import time, pymysql
for _ in range(240):
    try:
        conn = pymysql.connect(host="127.0.0.1", port=2890, user="root", autocommit=True)
        break
    except pymysql.err.OperationalError:
        time.sleep(0.5)
cur = conn.cursor()
for statement in [
    "CREATE DATABASE IF NOT EXISTS shop",
    "CREATE TABLE IF NOT EXISTS shop.customers (id INT PRIMARY KEY, name VARCHAR(100), since DATE)",
    "CREATE TABLE IF NOT EXISTS shop.orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer INT, "
    "amount DECIMAL(12,2), placed DATETIME(6), items JSON, KEY by_customer (customer))",
    "INSERT INTO shop.customers VALUES (1, 'Ada', '2024-01-02'), (2, 'Grace', '2025-06-30')",
    "INSERT INTO shop.orders (customer, amount, placed, items) VALUES "
    "(1, 12.50, '2026-11-20 10:00:00.000001', '[\"tea\"]'), (2, 99.99, '2026-11-21 12:30:00', '[\"book\", \"pen\"]')",
    "CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE amount > 50",
    "CREATE USER IF NOT EXISTS dumper IDENTIFIED BY 'demo-dumper-password'",
    "GRANT SELECT, SHOW VIEW ON *.* TO dumper",
    "CREATE USER IF NOT EXISTS loader IDENTIFIED BY 'demo-loader-password'",
    "GRANT ALL PRIVILEGES ON *.* TO loader",
]:
    cur.execute(statement)
PY

kubectl=("$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig")
"${kubectl[@]}" create namespace demo >/dev/null
KUBECONFIG="$dir/operator.kubeconfig" POD_NAMESPACE=obbackup-system \
  target/debug/ob-backup-operator run --http-addr 127.0.0.1:8080 --log-format text \
  --file-destination-root "$dir/share" >"$dir/operator.log" 2>&1 &
operator_pid=$!

# Every example but the "stop log backup" one (it names the same LogBackup as "start log backup"); Secrets and
# strategies first, as a user would create them before the tasks that refer to them.
for example in examples/00-secrets.yaml examples/new-backup-strategy*.yaml examples/*.yaml; do
  # Not in the demo: stopping the archive it just started, a strategy for a production cluster on object
  # storage and a restore into a disaster-recovery cluster (neither reachable from here), and deleting
  # backup sets that do not exist yet.
  case "$example" in
    examples/log-backup-stop.yaml | examples/new-backup-strategy-object-storage.yaml | \
      examples/manual-cleanup-backup-sets.yaml | examples/initiate-recovery-dr-standby.yaml | \
      examples/logical-*.yaml) continue ;;
  esac
  "${kubectl[@]}" -n demo apply --server-side -f "$example"
done
# The demo strategy also keeps a second copy of every backup set on the local S3 server.
"${kubectl[@]}" -n demo create secret generic offsite-keys --from-literal=accessId=demo-access-id \
  --from-literal=accessKey=demo-access-key-only-for-the-demo
offsite='?host=http://127.0.0.1:7070&s3_region=us-east-1&addressing_model=path'
"${kubectl[@]}" -n demo patch backupstrategy demo --type merge -p "{\"spec\": {\"secondBackup\": {
  \"dataDestination\": {\"uri\": \"s3://offsite/obcluster/data$offsite\", \"credentialsSecret\": \"offsite-keys\"},
  \"logDestination\": {\"uri\": \"s3://offsite/obcluster/archive$offsite\", \"credentialsSecret\": \"offsite-keys\"}}}}"
# The logical backup of seekdb's `shop` database, and its restore as `shop_copy` (examples/logical-*.yaml,
# pointed at seekdb).
"${kubectl[@]}" -n demo create secret generic seekdb --from-literal=host=127.0.0.1 --from-literal=port=2890 \
  --from-literal=user=root@sys --from-literal=password=unused
"${kubectl[@]}" -n demo create secret generic shop-dumper --from-literal=user=dumper@sys \
  --from-literal=password=demo-dumper-password
"${kubectl[@]}" -n demo create secret generic shop-loader --from-literal=user=loader@sys \
  --from-literal=password=demo-loader-password
"${kubectl[@]}" -n demo apply --server-side -f - <<'YAML'
apiVersion: obbackup.dev/v1alpha1
kind: BackupTask
metadata: {name: shop-dump}
spec:
  cluster: {name: seekdb, connectionSecret: seekdb}
  dataDestination: {uri: 'file:///backup/seekdb/logical'}
  tenant: shop
  mode: Full
  method: Logical
  logical: {credentialsSecret: shop-dumper, databases: [shop]}
---
apiVersion: obbackup.dev/v1alpha1
kind: RecoveryTask
metadata: {name: shop-copy}
spec:
  source: {tenant: shop, logical: {backupTask: shop-dump}}
  target:
    cluster: {name: seekdb, connectionSecret: seekdb}
    tenant: shop
    logical: {credentialsSecret: shop-loader, renameDatabases: {shop: shop_copy}}
YAML
echo
echo "waiting for the log archives to run, the backups to complete (and be copied to S3) and tenant1 to be restored on obsim (three to four minutes)..."
phase() { "${kubectl[@]}" -n demo get "$1" "$2" -o jsonpath='{.status.phase}' 2>/dev/null || true; }
for _ in $(seq 1 360); do
  [ "$(phase logbackup tenant2-archive)" = InProgress ] &&
    [ "$(phase logbackup demo-tenant1-log)" = InProgress ] &&
    [ "$(phase backuptask tenant2-before-upgrade)" = Completed ] &&
    [ "$(phase backuptask tenant1-full-now)" = Completed ] &&
    [ "$("${kubectl[@]}" -n demo get backuptask tenant1-full-now -o jsonpath='{.status.secondBackup.phase}' 2>/dev/null)" = Completed ] &&
    [ "$(phase recoverytask tenant1-restore)" = Completed ] &&
    [ "$(phase backuptask shop-dump)" = Completed ] &&
    [ "$(phase recoverytask shop-copy)" = Completed ] && break
  sleep 1
done
"${kubectl[@]}" -n demo get obbackup
echo
"${kubectl[@]}" -n demo describe backupstrategy demo | sed -n '/^Status:/,$p'
echo
# The console's overview and available recovery period, as the kubectl plugin shows them.
obbackup=(target/debug/kubectl-obbackup --utc)
echo "\$ kubectl obbackup -n demo status"
KUBECONFIG="$dir/admin.kubeconfig" "${obbackup[@]}" -n demo status
echo
echo "\$ kubectl obbackup -n demo windows demo"
KUBECONFIG="$dir/admin.kubeconfig" "${obbackup[@]}" -n demo windows demo
echo
echo "Try it yourself (in another terminal):"
echo "  export KUBECONFIG=$dir/admin.kubeconfig"
echo "  $bin/kubectl -n demo get obbackup"
echo "  $bin/kubectl -n demo describe backuptask tenant2-before-upgrade"
echo "  export PATH=$PWD/target/debug:\$PATH; kubectl obbackup -n demo tasks --since 24h   # the plugin"
echo "  curl -s 127.0.0.1:8080/metrics | grep obbackup_"
echo "  mysql -h ${obsim_sql%:*} -P ${obsim_sql##*:} -u root@sys -pdemo-only-password --ssl=0   # obsim (OceanBase 4.4.1)"
echo "  curl -s $obsim_control/clusters                              # obsim's control API"
echo "  find $dir/share $dir/s3 -name single_backup_set_info         # the first and the second copies"
echo "  cat $dir/share/backup/seekdb/logical/shop/logical/shop-dump-*/manifest.json   # the logical dump"
echo "  $seekdb/bin/python -c 'import pymysql; c = pymysql.connect(host=\"127.0.0.1\", port=2890, user=\"root\"); k = c.cursor(); k.execute(\"SELECT * FROM shop_copy.orders\"); print(k.fetchall())'"
echo "Operator log: $dir/operator.log. Press Ctrl-C to stop everything."
wait "$operator_pid"
