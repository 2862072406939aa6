#!/usr/bin/env bash
# Short fuzzing of every fuzz target: the one copy of the loop that .ci/run
# and `make fuzz` both run.
#
# Execution-count budgets (Nx), not wall-clock ones: with a duration, Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" failure at the -fuzztime boundary when the workers are starved of CPU
# (golang/go#75804, fixed in Go 1.27). A count has no deadline to race. Each budget is a few seconds of fuzzing
# on a 2-core machine. A real finding still fails the run and writes its input under testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

for target in "FuzzDecodeAuthRequest ./internal/httpapi 5000" "FuzzAuthHandler ./internal/httpapi 5000" \
              "FuzzDecodeVerifyRequest ./internal/httpapi 10000" "FuzzNormalizeOrigin ./internal/project 20000" \
              "FuzzProjectValidate ./internal/project 15000" "FuzzFromEnv ./internal/config 30000" \
              "FuzzVerify ./internal/token 100000" "FuzzFlexID ./internal/httpapi 10000" \
              "FuzzServerBodyFast ./internal/httpapi 10000" "FuzzPlainAddress ./internal/enduser 20000" \
              "FuzzSignClaims ./internal/token 20000" "FuzzFlatObject ./internal/token 20000"; do
  set -- $target
  go test -run '^$' -fuzz="^$1\$" -fuzztime="$3x" "$2"
done
