#!/usr/bin/env bash
# A local 3-master Redis Cluster on loopback, for the cluster tests:
#   scripts/redis-cluster.sh start|stop   (ports REDIS_CLUSTER_PORTS, default 7001 7002 7003)
set -euo pipefail
ports=${REDIS_CLUSTER_PORTS:-"7001 7002 7003"}
dir=${REDIS_CLUSTER_DIR:-/tmp/twofold-redis-cluster}
case "${1:-}" in
  start)
    mkdir -p "$dir"
    nodes=()
    for port in $ports; do
      redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
      rm -f "$dir/nodes-$port.conf"
      redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --cluster-enabled yes \
        --cluster-config-file "$dir/nodes-$port.conf" --cluster-node-timeout 5000 \
        --save "" --appendonly no --dir "$dir" --logfile "$dir/redis-$port.log"
      nodes+=("127.0.0.1:$port")
    done
    for port in $ports; do
      for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
    first=${ports%% *}
    for _ in $(seq 1 100); do
      redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
    done
    redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'
    (IFS=,; echo "${nodes[*]}")
    ;;
  stop)
    for port in $ports; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
