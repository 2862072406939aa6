# Developer entry points. CI runs `.ci/run` (make ci); the other targets are
# the pieces of it a developer runs on their own.

GO            ?= /usr/local/go/bin/go
TOOLS_BIN     ?= $(HOME)/.cache/pingauth-tools/bin
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint
# Benchmarks: every Benchmark* in the packages that have them (see README,
# "Benchmarks of the pieces"); narrow with e.g. make bench BENCH=AuthCached.
BENCH         ?= .
BENCH_PKGS    ?= ./internal/httpapi/ ./internal/token/ ./internal/secret/ ./internal/mapping/ ./internal/ratelimit/ ./internal/app/

export PATH := $(dir $(GO)):$(PATH)

.PHONY: lint test ci fuzz bench bench-http tools

# golangci-lint v2.15.0 with .golangci.yml (installed once by .ci/tools.sh).
lint: tools
	$(GOLANGCI_LINT) run ./...

tools:
	bash .ci/tools.sh

# Exactly the README's test command; tests needing PostgreSQL, Redis, Vault,
# Chromium or the chat server skip when those are absent.
test:
	go test -race -count=1 ./...

# What CI runs: starts the services, then vet, lint, fuzz and the tests.
ci:
	bash .ci/run

# The short fuzzing .ci/run does (one copy of the loop: .ci/fuzz.sh).
fuzz:
	bash .ci/fuzz.sh

bench:
	go test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCH_PKGS)

# Server-mode mint of a real `pingauth serve` vs a bare Gin handler, both
# driven by wrk over loopback in interleaved rounds (docs/performance.md,
# "Mint vs a bare Gin handler"); e.g. make bench-http BENCH_HTTP_FLAGS='-rounds 7'.
BENCH_HTTP_FLAGS ?=
bench-http:
	go run ./cmd/pingauth-bench-http $(BENCH_HTTP_FLAGS)
