#!/usr/bin/env bash
# Installs the developer/CI tools pingauth pins, cached under
# $HOME/.cache/pingauth-tools/bin, and prints nothing when they are already
# there at the pinned version. Built from the Go module proxy with `go install`
# (no prebuilt downloads).
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"

GOLANGCI_LINT_VERSION=v2.15.0
TOOLS_BIN="${PINGAUTH_TOOLS_BIN:-$HOME/.cache/pingauth-tools/bin}"
mkdir -p "$TOOLS_BIN"

lint="$TOOLS_BIN/golangci-lint"
# `golangci-lint version` prints "golangci-lint has version 2.15.0 built with ...".
if [ -x "$lint" ]; then
  case "$("$lint" version 2>/dev/null || true)" in
    *"has version ${GOLANGCI_LINT_VERSION#v} "*) exit 0 ;;
  esac
fi
echo "installing golangci-lint $GOLANGCI_LINT_VERSION into $TOOLS_BIN" >&2
GOBIN="$TOOLS_BIN" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
