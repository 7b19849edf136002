#!/usr/bin/env bash
# `make deploy-check`: the checks of k8s/, terraform/ and the image, and the
# tools the rest of `make test` needs (k6 for the stuffing suite's test).
# Tools missing from PATH and $(go env GOPATH)/bin are installed with
# `go install` (no other download: tflint runs its bundled Terraform
# ruleset only).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export PATH="$PATH:$($GO env GOPATH)/bin"

need() { # need BINARY MODULE@VERSION
  command -v "$1" >/dev/null 2>&1 && return
  echo "deploy-check: installing $2"
  $GO install "$2"
}
need tflint github.com/terraform-linters/tflint@v0.64.0
need k6 go.k6.io/k6@v1.8.1

# tflint on every module and the envs root, no warnings allowed.
out=$(tflint --chdir terraform --recursive --config "$PWD/terraform/.tflint.hcl" --format compact --minimum-failure-severity=notice 2>&1) || {
  echo "$out"; echo "deploy-check: tflint found problems"; exit 1; }
if [ -n "$out" ]; then echo "$out"; echo "deploy-check: tflint printed warnings"; exit 1; fi
echo "deploy-check: tflint clean"

# kustomize build of every overlay, strict decoding into k8s.io/api types and
# the Deployment checks; the Terraform module-call check; the static binary.
$GO test -count=1 ./deploy/
