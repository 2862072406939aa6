#!/usr/bin/env bash
# Build (once, cached) and run a local HashiCorp Vault dev server for pingauth's
# integration tests.
#
# Usage:
#   .ci/vault-server.sh build    build the binary if not cached; print its path
#   .ci/vault-server.sh start    start (or reuse) a dev server; print export lines
#   .ci/vault-server.sh stop     stop the server started by `start` (pid file)
#   .ci/vault-server.sh status   exit 0 if a server answers on the port
#   .ci/vault-server.sh env      print the export lines only
#
#   eval "$(.ci/vault-server.sh start)"   # sets VAULT_ADDR and VAULT_TOKEN
#
# Environment:
#   VAULT_PORT               listen port on 127.0.0.1 (default 8200; the dev
#                            server also takes VAULT_PORT+1 for its cluster port)
#   VAULT_DEV_ROOT_TOKEN_ID  dev root token (default pingauth-dev-root)
#   PINGAUTH_TOOLS_DIR       cache dir (default $HOME/.cache/pingauth-tools)
#   VAULT_BIN                use this vault binary instead of building one
#   VAULT_START_TIMEOUT      seconds to wait for /v1/sys/health (default 60)
#
# Where the binary comes from: only the Go module proxy is reachable, so the
# Vault source is taken from its module zip (github.com/hashicorp/vault@v1.21.4)
# and built with the local Go toolchain (~15 min on 2 cores from empty caches,
# then cached under $PINGAUTH_TOOLS_DIR/vault/<key>/vault). Vault's go.mod
# points api/ and sdk/ at nested directories (replace => ./sdk), which module
# zips do not contain; we drop those replaces and use the published modules
# (api v1.22.0, sdk v0.21.0). The release branch's sdk differs from sdk
# v0.21.0 in two signatures, fixed by two small, checked source edits below.
# Dev mode mounts KV v2 at secret/ and keeps everything in memory.
set -euo pipefail

VAULT_VERSION="1.21.4"
VAULT_SDK_VERSION="v0.21.0"
# Bump RECIPE_REV whenever the build recipe below changes: it is part of the
# cache key, so a new value forces one rebuild.
RECIPE_REV="1"
CACHE_KEY="v${VAULT_VERSION}-sdk${VAULT_SDK_VERSION#v}-r${RECIPE_REV}"

TOOLS_DIR="${PINGAUTH_TOOLS_DIR:-${HOME:-/root}/.cache/pingauth-tools}"
INSTALL_DIR="$TOOLS_DIR/vault/$CACHE_KEY"
CACHED_BIN="$INSTALL_DIR/vault"
BIN_LINK="$TOOLS_DIR/bin/vault"
RUN_DIR="$TOOLS_DIR/run"

PORT="${VAULT_PORT:-8200}"
HOST="127.0.0.1"
ADDR="http://$HOST:$PORT"
TOKEN="${VAULT_DEV_ROOT_TOKEN_ID:-pingauth-dev-root}"
PID_FILE="$RUN_DIR/vault-$PORT.pid"
LOG_FILE="$RUN_DIR/vault-$PORT.log"
START_TIMEOUT="${VAULT_START_TIMEOUT:-60}"

log() { echo "vault-server: $*" >&2; }
die() { echo "vault-server: ERROR: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not found in PATH"; }

# ---------------------------------------------------------------- build ----

binary_ok() {
  [ -x "$1" ] && "$1" version 2>/dev/null | grep -q "Vault v${VAULT_VERSION}"
}

# Prints the path of a usable vault binary, building it if needed.
ensure_binary() {
  if [ -n "${VAULT_BIN:-}" ]; then
    [ -x "$VAULT_BIN" ] || die "VAULT_BIN=$VAULT_BIN is not an executable file"
    echo "$VAULT_BIN"
    return
  fi
  if binary_ok "$CACHED_BIN"; then
    ln -sfn "$CACHED_BIN" "$BIN_LINK" 2>/dev/null || true
    echo "$CACHED_BIN"
    return
  fi
  mkdir -p "$TOOLS_DIR/bin" "$TOOLS_DIR/vault"
  need flock
  exec 9>"$TOOLS_DIR/vault/.build.lock"
  flock 9 # another build of the same cache may be running: wait for it
  if ! binary_ok "$CACHED_BIN"; then
    build_vault
  fi
  exec 9>&-
  ln -sfn "$CACHED_BIN" "$BIN_LINK"
  echo "$CACHED_BIN"
}

# Edits a file with a perl substitution and checks that it took effect.
patch_src() { # file perl-expr expected-fixed-string
  local file="$1" expr="$2" expect="$3"
  [ -f "$file" ] || die "patch target $file missing from the Vault source"
  perl -0pi -e "$expr" "$file"
  grep -qF -- "$expect" "$file" || die "patch of $file did not apply (recipe out of date for Vault $VAULT_VERSION)"
}

build_vault() {
  need go
  need perl
  local start; start=$(date +%s)
  log "building Vault v$VAULT_VERSION from the Go module proxy into $INSTALL_DIR"
  log "(one-time; ~15 min on 2 cores with empty Go caches; log: $TOOLS_DIR/vault/build-$CACHE_KEY.log)"

  # Isolate from the caller's Go settings (pingauth's go.work, -mod=vendor...).
  export GOWORK=off GO111MODULE=on GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

  local work="$TOOLS_DIR/vault/src-$CACHE_KEY"
  local buildlog="$TOOLS_DIR/vault/build-$CACHE_KEY.log"
  rm -rf "$work"
  mkdir -p "$work/dl"
  : >"$buildlog"

  local json dir
  json=$(cd "$work/dl" && go mod download -json "github.com/hashicorp/vault@v$VAULT_VERSION" 2>&1) ||
    die "cannot download github.com/hashicorp/vault@v$VAULT_VERSION from the Go module proxy: $json"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -f "$dir/go.mod" ] ||
    die "go mod download gave no source dir for Vault v$VAULT_VERSION: $json"

  cp -R "$dir" "$work/vault"
  chmod -R u+w "$work/vault"
  cd "$work/vault"

  # Drop `replace github.com/hashicorp/vault/... => ./...` (nested modules are
  # not in the zip) and pin the published sdk.
  sed -i -E '/^replace[[:space:]]+github\.com\/hashicorp\/vault\/[^[:space:]]+[[:space:]]+=>[[:space:]]+\.\//d' go.mod
  if grep -qE '=>[[:space:]]+\./' go.mod; then
    die "go.mod of Vault v$VAULT_VERSION still has local replace directives: $(grep -E '=>[[:space:]]+\./' go.mod)"
  fi
  go mod edit -require="github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION"

  # 1) sdk v0.21.0's framework.Backend.ActivationFunc takes an extra string.
  patch_src vault/identity_store_util.go \
    's/func \(i \*IdentityStore\) activateDeduplication\(ctx context\.Context, req \*logical\.Request\) error \{/func (i *IdentityStore) activateDeduplication(ctx context.Context, req *logical.Request, _ string) error {/' \
    'activateDeduplication(ctx context.Context, req *logical.Request, _ string) error {'
  patch_src vault/logical_system_activation_flags.go \
    's/b\.idStoreBackend\.ActivationFunc\(ctx, nil\)/b.idStoreBackend.ActivationFunc(ctx, nil, "")/' \
    'b.idStoreBackend.ActivationFunc(ctx, nil, "")'
  # 2) sdk v0.21.0's keysutil.LockManager.RestorePolicy returns only an error.
  patch_src builtin/logical/transit/path_restore.go \
    's/restoredKeyName, err := b\.lm\.RestorePolicy\(ctx, req\.Storage, keyName, backupB64, force\)/restoredKeyName := keyName\n\terr := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)/' \
    'err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)'

  log "downloading Vault's dependencies (go mod download)"
  if ! go mod download >>"$buildlog" 2>&1; then
    tail -n 30 "$buildlog" >&2
    die "downloading Vault's Go dependencies failed (see $buildlog)"
  fi
  log "compiling (go build)"
  mkdir -p "$INSTALL_DIR"
  if ! go build -trimpath -ldflags "-s -w -X github.com/hashicorp/vault/version.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -o "$INSTALL_DIR/vault.tmp" . >>"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    die "building Vault v$VAULT_VERSION failed (see $buildlog)"
  fi
  mv -f "$INSTALL_DIR/vault.tmp" "$CACHED_BIN"
  binary_ok "$CACHED_BIN" || die "built binary $CACHED_BIN does not report Vault v$VAULT_VERSION"
  cd /
  rm -rf "$work"
  log "built $("$CACHED_BIN" version) in $(( $(date +%s) - start ))s -> $CACHED_BIN"
}

# ------------------------------------------------------------ run/stop ----

health_code() { # prints the HTTP code of /v1/sys/health, 000 if nothing answers
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ADDR/v1/sys/health" 2>/dev/null || true
}

token_ok() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Vault-Token: $TOKEN" \
    "$ADDR/v1/auth/token/lookup-self" 2>/dev/null || true)" = "200" ]
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

print_env() {
  echo "export VAULT_ADDR=$ADDR"
  echo "export VAULT_TOKEN=$TOKEN"
}

our_pid() { # prints the pid from the pid file if that process still runs
  [ -f "$PID_FILE" ] || return 1
  local pid; pid=$(cat "$PID_FILE" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  rm -f "$PID_FILE"
  return 1
}

cmd_start() {
  need curl
  local code; code=$(health_code)
  if [ "$code" != "000" ]; then
    if [ "$code" = "200" ] && token_ok; then
      log "reusing the Vault server already answering at $ADDR"
      print_env
      return 0
    fi
    die "a server answers at $ADDR (health HTTP $code) but is not an unsealed Vault accepting token '$TOKEN'; stop it or set VAULT_PORT"
  fi
  if port_open "$PORT"; then
    die "port $PORT on $HOST is in use by something that is not Vault; set VAULT_PORT"
  fi

  local bin; bin=$(ensure_binary)
  mkdir -p "$RUN_DIR"
  if pid=$(our_pid); then
    log "stale server pid $pid from $PID_FILE does not answer; stopping it"
    kill "$pid" 2>/dev/null || true
    sleep 1
    rm -f "$PID_FILE"
  fi

  log "starting Vault dev server at $ADDR (log: $LOG_FILE)"
  # Detached, stdin/stdout/stderr away from the caller so $(...) returns.
  env -u VAULT_ADDR -u VAULT_TOKEN -u VAULT_NAMESPACE \
    setsid nohup "$bin" server -dev \
      -dev-listen-address="$HOST:$PORT" \
      -dev-root-token-id="$TOKEN" \
      -dev-no-store-token \
      -log-level=warn \
      </dev/null >"$LOG_FILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  while :; do
    if [ "$(health_code)" = "200" ] && token_ok; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      tail -n 30 "$LOG_FILE" >&2 || true
      die "Vault exited during start-up (see $LOG_FILE)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 30 "$LOG_FILE" >&2 || true
      kill "$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      die "Vault did not answer $ADDR/v1/sys/health within ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
  log "Vault is up (pid $pid); KV v2 at secret/, root token '$TOKEN'"
  print_env
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    log "no Vault server started by this script on port $PORT (no live pid in $PID_FILE)"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped Vault (pid $pid)"
}

cmd_status() {
  need curl
  local code; code=$(health_code)
  if [ "$code" = "000" ]; then
    log "no server answers at $ADDR"
    return 1
  fi
  log "server at $ADDR answers /v1/sys/health with HTTP $code"
  [ "$code" = "200" ]
}

case "${1:-build}" in
  build) ensure_binary ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) print_env ;;
  -h|--help|help) sed -n '2,30p' "$0" ;;
  *) die "unknown command '$1' (use build, start, stop, restart, status, env)" ;;
esac
