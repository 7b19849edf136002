#!/usr/bin/env bash
# `make run-regions`: three regional servers (us-east1 :8080, europe-west1
# :8081, asia-south1 :8082) on this machine, one PostgreSQL standing in for
# the cluster, a Redis database per region, and latency proxies (:9080-9082)
# in front of each region's internal address adding DELAY one way.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
DELAY=${DELAY:-70ms}
BIN=${BIN:-bin/gatehouse}
mkdir -p .dev
[ -s .dev/forwarding.key ] || { printf 'dev:%s' "$(head -c 32 /dev/urandom | base64 -w0)" > .dev/forwarding.key; chmod 600 .dev/forwarding.key; }
common=(
  GATEHOUSE_REGIONS_FILE=regions/local.yaml
  GATEHOUSE_DATABASE_URL="${GATEHOUSE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/gatehouse?sslmode=disable}"
  GATEHOUSE_ISSUER="${GATEHOUSE_ISSUER:-http://localhost:8080}"
  GATEHOUSE_KEYS=local GATEHOUSE_LOCAL_KEYS_DIR=.dev/keys
  GATEHOUSE_FORWARDING_KEYS="$(cat .dev/forwarding.key)"
  GATEHOUSE_OUTBOX_SENDER=console GATEHOUSE_LOG_FORMAT=text
)
env "${common[@]}" GATEHOUSE_REGION=us-east1 "$BIN" migrate
env "${common[@]}" GATEHOUSE_REGION=us-east1 "$BIN" keys init

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
go run ./regions/latency/latencyproxy -delay "$DELAY" \
  -route 127.0.0.1:9080=127.0.0.1:8080 -route 127.0.0.1:9081=127.0.0.1:8081 -route 127.0.0.1:9082=127.0.0.1:8082 &
pids+=($!)
port=8080
for i in 0 1 2; do
  region=$(sed -n "s/^  - name: //p" regions/local.yaml | sed -n "$((i + 1))p")
  env "${common[@]}" GATEHOUSE_REGION="$region" GATEHOUSE_HTTP_ADDR=":$((port + i))" \
    GATEHOUSE_REDIS_URL="redis://127.0.0.1:6379/$i" "$BIN" serve 2>&1 | sed -u "s/^/[$region] /" &
  pids+=($!)
done
echo "regions up: us-east1 :8080, europe-west1 :8081, asia-south1 :8082 (inter-region delay $DELAY each way)"
wait
