#!/usr/bin/env bash
# Installs actionlint (github.com/rhysd/actionlint) into
# /usr/local/lib/sluice-tools/bin with `go install`. A test runs it on the
# GitHub Actions workflow in docs/ci. Idempotent: skipped when present.
set -euo pipefail
dir="${SLUICE_TOOLS_BIN:-/usr/local/lib/sluice-tools/bin}"
[ -x "$dir/actionlint" ] && exit 0
mkdir -p "$dir"
echo "installing actionlint v1.7.12 into $dir" >&2
GOBIN="$dir" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
