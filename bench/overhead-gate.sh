#!/usr/bin/env bash
# The overhead gate's proof on real PostgreSQL (issue 16): RUNS gates of an
# A/A comparison and RUNS of a candidate whose work is 10% longer, each with
# the default budget, while a busy loop loads one core (pinned to CPU 1 with
# taskset when there is one) and whatever else runs on the machine runs.
#
# The workload (bench/overhead-gate.yaml) is one CPU-bound query, a plpgsql
# loop (bench/overhead-gate.sql) whose length the connection's sluice.spin
# setting chooses: 60000 iterations for the baseline (about 2 ms here), 60000
# (A/A) or 66000 (+10%) for the candidate, gated at max 5% at p95 with 95%
# confidence. Prints one line per run (more: for an inconclusive verdict,
# about how many times the samples would decide it) and the verdict counts
# per case.
#
# usage: bench/overhead-gate.sh [RUNS (default 10)] [MAX_DURATION (default 1m)]
# (or RUNS=... MAX_DURATION=... in the environment). Needs PostgreSQL, Go, jq.
set -euo pipefail
runs=${1:-${RUNS:-10}}
budget=${2:-${MAX_DURATION:-1m}}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/sluice-gate.XXXXXX)
hog=
cleanup() {
	if [ -n "$hog" ]; then kill "$hog" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/sluice" "$repo/cmd/sluice"

if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
	taskset -c 1 sh -c 'while :; do :; done' &
else
	sh -c 'while :; do :; done' &
fi
hog=$!

printf '%-7s %3s  %-12s %9s  %-19s %7s %8s %-8s %s\n' case run verdict p95 interval seconds samples stopped more
results=()
for case in aa slow10; do
	cand=60000
	if [ "$case" = slow10 ]; then cand=66000; fi
	for i in $(seq 1 "$runs"); do
		(cd "$work" && ./sluice run "$repo/bench/overhead-gate.yaml" --log-level error \
			--param seed="$repo/bench/overhead-gate.sql" --param candidate_spin="$cand" \
			--param max_duration="$budget" >/dev/null 2>&1) || true
		report=$(ls -td "$work"/.sluice/runs/*/ | head -n 1)report.json
		line=$(jq -r 'def pct: . * 1000 | round / 10 | tostring + "%";
			.steps[] | select(.id == "overhead") | .outputs
			| [.verdict, (.p95.ratio|pct), "[" + (.p95.ci_low|pct) + ", " + (.p95.ci_high|pct) + "]",
			   (.seconds|floor|tostring), (.samples|tostring), .stopped,
			   (if .more > 0 then (.more * 10 | round / 10 | tostring) + "x" else "-" end)] | @tsv' "$report")
		IFS=$'\t' read -r verdict ratio interval seconds samples stopped more <<<"$line"
		printf '%-7s %3d  %-12s %9s  %-19s %7s %8s %-8s %s\n' "$case" "$i" "$verdict" "$ratio" "$interval" "$seconds" "$samples" "$stopped" "$more"
		results+=("$case $verdict")
	done
done

echo
for case in aa slow10; do
	p=0 n=0 f=0
	for r in "${results[@]}"; do
		set -- $r
		[ "$1" = "$case" ] || continue
		case $2 in pass) p=$((p + 1)) ;; fail) f=$((f + 1)) ;; *) n=$((n + 1)) ;; esac
	done
	printf '%-7s pass %2d  inconclusive %2d  fail %2d  (of %d, max_duration %s)\n' "$case" "$p" "$n" "$f" "$runs" "$budget"
done
