#!/usr/bin/env bash
# Installs everything `make test` needs beyond scripts/install-deps.sh, each
# only when missing:
#   openssl        check-tls is cross-checked with `openssl s_client`
#   libxml2-utils  xmllint validates JUnit output against the XSD
#   openssh-client ssh-keygen -Y verify checks backup signatures by hand
#   chromium       renders the HTML report in a test (about 350 MB, 34 s to
#                  install on the project's machine), with fonts-dejavu-core
#   age >= 1.3     post-quantum backups open without sluice (install-age13.sh)
#   actionlint     checks docs/ci's GitHub workflow (install-actionlint.sh)
#   prometheus, prometheus-pushgateway
#                  promtool checks the metrics sluice writes and runs the
#                  alert rules' tests; the metrics integration test starts
#                  its own Prometheus and Pushgateway on free 127.0.0.1 ports
#                  (on a machine with systemd the packages also start their
#                  services on :9090 and :9091; the tests do not use them)
#   bash-completion
#                  a testscript completes sluice's commands in a real bash
#                  through the script `sluice completion bash` prints
#   versitygw      the S3-compatible server of the s3:// tests (about 2
#                  minutes to build cold; install-versitygw.sh)
# and Debian's package index, which TestContainerfile reads (apt-cache).
set -euo pipefail
here="$(dirname "$0")"
"$here/install-deps.sh"

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
"$here/apt-install.sh" "${need[@]}"
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
fi

"$here/install-age13.sh"
"$here/install-actionlint.sh"
"$here/install-versitygw.sh"
