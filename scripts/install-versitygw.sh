#!/usr/bin/env bash
# Installs versitygw (Apache-2.0), the S3-compatible server the s3:// tests
# start on 127.0.0.1 with its posix backend. Builds it with `go install`
# outside sluice's module (so it never enters our go.mod) into $(go env
# GOPATH)/bin, and skips the build (about 2 minutes cold) when that version
# is already installed there or on PATH. Idempotent.
set -euo pipefail

version="v1.8.0"
module="github.com/versity/versitygw"

installed_version() { # prints the module version a versitygw binary was built from
	go version -m "$1" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }'
}

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
for bin in "$gobin/versitygw" "$(command -v versitygw 2>/dev/null || true)"; do
	if [ -n "$bin" ] && [ -x "$bin" ] && [ "$(installed_version "$bin")" = "$version" ]; then
		exit 0
	fi
done

echo "building versitygw $version into $gobin (about 2 minutes)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
GOFLAGS=-mod=mod GOBIN="$gobin" go install "$module/cmd/versitygw@$version"
[ "$(installed_version "$gobin/versitygw")" = "$version" ] || {
	echo "install-versitygw: $gobin/versitygw is not $version after the build" >&2
	exit 1
}
