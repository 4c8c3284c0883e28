#!/usr/bin/env bash
# apt-install.sh PKG...: installs Debian packages (none given: does nothing),
# with sudo when not root.
set -euo pipefail
[ $# -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing from Debian's packages: $*" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
