# Gatehouse. `make run` starts one region on this machine with everything it
# needs; `make test` runs every test against real PostgreSQL and Redis.

GO       ?= go
BIN      := bin/gatehouse
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Development settings for `make run` (override on the command line).
DEV_ENV := \
	GATEHOUSE_REGION=us-east1 \
	GATEHOUSE_HTTP_ADDR=$${GATEHOUSE_HTTP_ADDR:-:8080} \
	GATEHOUSE_DATABASE_URL=$${GATEHOUSE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/gatehouse?sslmode=disable} \
	GATEHOUSE_REDIS_URL=$${GATEHOUSE_REDIS_URL:-redis://127.0.0.1:6379/0} \
	GATEHOUSE_ISSUER=$${GATEHOUSE_ISSUER:-http://localhost:8080} \
	GATEHOUSE_KEYS=local \
	GATEHOUSE_LOCAL_KEYS_DIR=$${GATEHOUSE_LOCAL_KEYS_DIR:-.dev/keys} \
	GATEHOUSE_REGIONS_FILE=regions/local.yaml \
	GATEHOUSE_OUTBOX_SENDER=console \
	GATEHOUSE_LOG_FORMAT=text

.PHONY: all build run run-regions services test test-race lint bench fuzz clean deploy-check image screenshots

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse

services:
	@bash .ci/services

run: build services
	@$(DEV_ENV) $(BIN) migrate
	@$(DEV_ENV) $(BIN) keys init
	@$(DEV_ENV) $(BIN) serve

# Three regions on this machine with a 70 ms one-way delay between them
# (DELAY=… to change it). See regions/run-local.sh.
run-regions: build services
	@bash regions/run-local.sh

# Every test, including the fuzz seeds, against the real services.
test: services deploy-check
	$(GO) test -count=1 -timeout 20m ./...

test-race: services
	$(GO) test -race -count=1 -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Short fuzzing of every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# k8s overlays (kustomize, strict decoding, Deployment checks), tflint and
# the module-call check on terraform/, the static binary; installs tflint and
# k6 with `go install` when missing. See deploy/check.sh.
deploy-check:
	@GO=$(GO) bash deploy/check.sh

# The container image (needs Docker).
IMAGE ?= gatehouse:$(VERSION)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

# `make k6-<suite>` runs loadtest/<suite>.js against `make run`'s server on
# 127.0.0.1 and writes its report (summary JSON, PNG plots) under
# loadtest/reports/<suite>-<time>/; K6_ARGS passes more flags, e.g.
# K6_ARGS='-e ARGON2_CAPACITY=12'. Installs k6 when missing.
k6-%: build services
	@GO=$(GO) bash loadtest/k6.sh $*

# Screenshots of every hosted page, from the headless-Chromium tests.
screenshots: services
	GATEHOUSE_SCREENSHOTS_DIR=$(CURDIR)/docs/screens $(GO) test -count=1 -run '^TestBrowser' ./cmd/gatehouse

bench: build services
	$(GO) run ./loadtest/bench

clean:
	rm -rf bin .dev
