#!/usr/bin/env bash
# Installs, from Debian's packages, what sluice itself runs when missing:
# PostgreSQL (server for throwaway clusters, client tools), age, zstd and
# coreutils (sha256sum). Used by `make demo`; the tests need more
# (scripts/install-test-deps.sh). Idempotent; needs root or sudo only when
# something is missing.
set -euo pipefail

need=()
command -v age >/dev/null 2>&1 || need+=(age)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
compgen -G '/usr/lib/postgresql/*/bin/pg_dump' >/dev/null || need+=(postgresql-client)
exec "$(dirname "$0")/apt-install.sh" "${need[@]}"
