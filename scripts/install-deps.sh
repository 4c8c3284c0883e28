#!/usr/bin/env bash
# Installs, from Debian's packages, the tools sluice's quickstart and tests use
# when they are missing: PostgreSQL (server and client), age, zstd, coreutils.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v age >/dev/null 2>&1 || need+=(age)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
command -v openssl >/dev/null 2>&1 || need+=(openssl) # check-tls cross-check (openssl s_client)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
compgen -G '/usr/lib/postgresql/*/bin/pg_dump' >/dev/null || need+=(postgresql-client)
# age >= 1.3 (post-quantum keys) for the rotate-key tests, beside Debian's age.
"$(dirname "$0")/install-age13.sh"
# Reports: xmllint validates JUnit output against the XSD; headless Chromium
# renders the HTML report in a test (large: about 350 MB, 34 s to install on
# the project's machine); actionlint checks docs/ci's GitHub workflow.
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
"$(dirname "$0")/install-actionlint.sh"
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing from Debian's packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
