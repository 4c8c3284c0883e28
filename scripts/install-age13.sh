#!/usr/bin/env bash
# Installs age >= 1.3 (post-quantum keys) into /usr/local/lib/sluice-tools/bin
# with `go install`, apart from Debian's age (1.1, X25519 only) on the PATH.
# The rotate-key tests use it to prove post-quantum backups open without
# sluice. Idempotent: skipped when present.
set -euo pipefail
dir="${SLUICE_TOOLS_BIN:-/usr/local/lib/sluice-tools/bin}"
[ -x "$dir/age" ] && exit 0
mkdir -p "$dir"
echo "installing age v1.3.2 into $dir" >&2
GOBIN="$dir" go install filippo.io/age/cmd/age@v1.3.2
