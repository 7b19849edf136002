#!/usr/bin/env bash
# `make k6-<suite>`: run loadtest/<suite>.js against a server started here on
# 127.0.0.1 (`make run`, or `make run-regions` for multi-region), then write
# the report (summary.json, legit_p95.png, attack_outcomes.png) with
# loadtest/k6report/cmd/k6report under loadtest/reports/<suite>-<UTC time>/. Installs k6 with
# `go install go.k6.io/k6@v1.8.1` when missing. Extra k6 flags: K6_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
suite=${1:?usage: loadtest/k6.sh SUITE}
script=loadtest/$suite.js
[ -f "$script" ] || { echo "k6: no suite $script" >&2; exit 2; }
export PATH="$PATH:$($GO env GOPATH)/bin"
command -v k6 >/dev/null 2>&1 || { echo "k6: installing go.k6.io/k6@v1.8.1"; $GO install go.k6.io/k6@v1.8.1; }

out=loadtest/reports/$suite-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
if [ "$suite" = multi-region ]; then
  GATEHOUSE_RESIDENCY_RULES=${GATEHOUSE_RESIDENCY_RULES:-US=us-east1,DE=europe-west1,IN=asia-south1} \
    setsid make run-regions >"$out/server.log" 2>&1 &
  ready=(http://127.0.0.1:8080 http://127.0.0.1:8081 http://127.0.0.1:8082)
else
  # The stuffing suite's addresses travel in X-Forwarded-For from 127.0.0.1.
  GATEHOUSE_TRUSTED_PROXIES=${GATEHOUSE_TRUSTED_PROXIES:-127.0.0.1/32} GATEHOUSE_HTTP_ADDR=127.0.0.1:8080 \
    setsid make run >"$out/server.log" 2>&1 &
  ready=(http://127.0.0.1:8080)
fi
server=$!
trap 'kill -TERM -- -$server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for url in "${ready[@]}"; do
  for _ in $(seq 1 120); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && break
    kill -0 $server 2>/dev/null || { cat "$out/server.log"; echo "k6: the server exited" >&2; exit 1; }
    sleep 1
  done
  curl -fsS "$url/readyz" >/dev/null || { echo "k6: $url not ready" >&2; exit 1; }
done

# Argon2id capacity of `make run`'s parameters (64 MiB, t=3): about 6
# hashes/s per core unless told (ARGON2_CAPACITY).
capacity=${ARGON2_CAPACITY:-$(( $(nproc) * 6 ))}
set +e
k6 run --quiet --out "json=$out/points.json" -e "SUMMARY_JSON=$out/k6-summary.json" \
  -e BASE_URL=http://127.0.0.1:8080 -e "ARGON2_CAPACITY=$capacity" ${K6_ARGS:-} "$script"
k6status=$?
set -e
$GO run ./loadtest/k6report/cmd/k6report -suite "$suite" -points "$out/points.json" -summary "$out/k6-summary.json" -out "$out"
echo "k6: report in $out (k6 exit $k6status)"
exit $k6status
