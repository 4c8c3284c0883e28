#!/usr/bin/env bash
# Benchmark of the parallel dump (issue 15, "Past one pg_dump"): on a
# database of about SIZE_MB in eight tables of different sizes (36%, 22%,
# 14%, 10%, 8%, 5%, 3% and 2% of it), run alternately, ROUNDS times each,
#   jobs1   sluice run plans/backup.yaml --param jobs=1   (one pg_dump, one object)
#   jobs2   the same with --param jobs=2                   (one snapshot, in parts)
#   jobs4   the same with --param jobs=4
# and print the medians of wall time, CPU time (user+sys of sluice and its
# pg_dump processes, not the server's), peak RSS (the largest process) and
# stored size, with the ratios to jobs1 measured in the same run.
#
# Then it times each part on its own, with nothing else of the benchmark
# running: each table's rows (a plan whose dump has tables: [T] and
# --data-only, through the same compress, encrypt, checksum and upload),
# the schema (--schema-only), an empty table (what any run costs) and a
# bare pg_dump of the empty table (what each part's pg_dump costs to
# start), ROUNDS times, medians. A part's work is its time less the empty
# table's, plus one pg_dump start. From these it estimates what jobs N
# would take on a machine with the cores to run N such streams at once,
# each as fast as alone here: the fixed cost, plus the parts scheduled
# largest first on N workers (the order sluice starts them in) until the
# last worker ends, against the fixed cost plus every part's work with one
# pg_dump start (one pg_dump). The estimate ignores what the parts share
# (the server's disk and buffers), so it is an upper bound.
#
# usage: bench/parallel-dump.sh [SIZE_MB (default 512)] [ROUNDS (default 3)]
# Needs PostgreSQL, zstd, age and GNU time (see bench/pipeline.sh).
set -euo pipefail
size_mb=${1:-${SIZE_MB:-512}}
rounds=${2:-${ROUNDS:-3}}
repo=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d /tmp/sluice-pbench.XXXXXX)
chmod 755 "$work"
. "$repo/bench/cluster.sh"
cleanup() {
  stop_cluster
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/out"
start_cluster -c max_connections=50

# The rows of bench/pipeline.sh (about 330 bytes each, ratio ~3 with zstd),
# in eight tables of decreasing size.
echo "seeding about ${size_mb} MB in 8 tables..." >&2
shares="36 22 14 10 8 5 3 2"
i=0
for share in $shares; do
  i=$((i + 1))
  rows=$((size_mb * 1024 * 1024 / 330 * share / 100))
  psql "$dsn" <<SQL
CREATE TABLE t$i (id bigint PRIMARY KEY, customer text, email text, amount numeric(12,2),
  placed timestamptz, status text, note text);
INSERT INTO t$i
SELECT g, 'Customer ' || (g % 50000), 'c' || (g % 50000) || '@example.com', (g * 7919 % 1000000) / 100.0,
  timestamptz '2024-01-01' + g * interval '7 seconds', (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
  md5(g::text) || ' ' || repeat('item ' || (g % 977) || ' ', 8) || md5((g * 31)::text)
FROM generate_series(1::bigint, $rows) AS g;
SQL
done
psql "$dsn" -c "CREATE TABLE t0 (id bigint)" -c "VACUUM ANALYZE"
psql "$dsn" -At -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench'))" >&2

(cd "$repo" && "${GO:-go}" build -o "$work/sluice" ./cmd/sluice)
"$work/sluice" keys init --type x25519 "$work/keys/backup" >/dev/null

measure() { # name, then the command: prints "name seconds maxrss_kib bytes cpu_seconds"
  local name=$1; shift
  rm -rf "$work/out"; mkdir "$work/out"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2; exit 1; }
  local bytes e m u s
  bytes=$(find "$work/out" -type f -name '*.age' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  read -r e m u s <"$work/time"
  echo "$name $e $m $bytes $(python3 -c "print(round($u + $s, 2))")"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
results=$work/results
: >"$results"
variants="1 2 4"
for r in $(seq 1 "$rounds"); do
  order=$variants
  [ $((r % 2)) -eq 0 ] && order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' ')
  for j in $order; do
    measure "jobs$j" sh -c "cd '$work' && ./sluice run '$repo/plans/backup.yaml' --state-dir '$work/state' \
      --param db='$dsn' --param dest='file://$work/out' --param jobs=$j --log-level warn" | tee -a "$results"
  done
done

# Each part alone: a table's rows, or the schema.
cat >"$work/part.yaml" <<'YAML'
version: 1
params:
  db: {type: string, secret: true}
  dest: {type: string}
  what: {type: list}
  tables: {type: list, default: []}
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  dump: {type: dump, with: {url: "${{ params.db }}", tables: "${{ params.tables }}", args: "${{ params.what }}"}}
  compress: {type: compress, input: dump}
  encrypt: {type: encrypt, input: compress, with: {key: backup}}
  checksum: {type: checksum, input: encrypt}
  upload: {type: upload, input: checksum, with: {to: "${{ params.dest }}/${{ run.id }}.dump.zst.age"}}
YAML
parts=$work/parts
: >"$parts"
for r in $(seq 1 "$rounds"); do
  # What a part costs however small: pg_dump's start (its catalogue reads)
  # alone, and a whole run of the part plan on an empty table.
  measure pgdump sh -c "'$bin/pg_dump' -Fc --data-only -t public.t0 -d '$dsn' > /dev/null" >>"$parts"
  for i in $(seq 0 8) schema; do
    if [ "$i" = schema ]; then
      args=(--param 'what=["--schema-only"]')
    else
      args=(--param 'what=["--data-only"]' --param "tables=[\"public.t$i\"]")
    fi
    measure "$i" sh -c "cd '$work' && ./sluice run '$work/part.yaml' --state-dir '$work/state' --param db='$dsn' \
      --param dest='file://$work/out' $(printf "%q " "${args[@]}") --log-level warn" >>"$parts"
  done
done

python3 - "$results" "$parts" <<'PY'
import heapq, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {}
for name in ("jobs1", "jobs2", "jobs4"):
    rs = [r for r in rows if r[0] == name]
    med[name] = (statistics.median(float(r[1]) for r in rs), max(int(r[2]) for r in rs) / 1024,
                 statistics.median(int(r[3]) for r in rs), statistics.median(float(r[4]) for r in rs))
    w, rss, stored, cpu = med[name]
    print(f"{name}  median wall {w:6.2f} s  cpu {cpu:6.2f} s  peak RSS {rss:6.1f} MiB  stored {stored/2**20:7.1f} MiB  ({len(rs)} runs)")
for name in ("jobs2", "jobs4"):
    a, b = med[name], med["jobs1"]
    print(f"{name}/jobs1  wall {a[0]/b[0]:.2f}x  cpu {a[3]/b[3]:.2f}x  stored {a[2]/b[2]:.3f}x  peak RSS {a[1]/b[1]:.2f}x")

parts = {}
for l in open(sys.argv[2]):
    name, wall = l.split()[:2]
    parts.setdefault(name, []).append(float(wall))
times = {k: statistics.median(v) for k, v in parts.items()}
start, empty = times.pop("pgdump"), times.pop("0")
# A part's own work: its run less that of an empty table's, plus the start
# of its own pg_dump, which every part pays. The run's fixed cost (sluice,
# pre-flight, the commit) is paid once.
fixed = empty - start
work = {k: max(v - empty, 0) + start for k, v in times.items()}
print("each part alone (median wall, s): " + ", ".join(f"{'t'+k if k != 'schema' else k} {v:.2f}" for k, v in sorted(times.items(), key=lambda kv: -kv[1])))
print(f"a part's fixed cost: a run on an empty table {empty:.2f} s, of which pg_dump's start {start:.2f} s")
serial = fixed + sum(work.values()) - (len(work) - 1) * start
print(f"one pg_dump, estimated from the parts: {serial:.2f} s; measured jobs1: {med['jobs1'][0]:.2f} s")
def makespan(ts, n):  # largest first onto the least loaded of n workers
    load = [0.0] * n
    for t in sorted(ts, reverse=True):
        heapq.heapreplace(load, load[0] + t)
    return max(load)
ts = list(work.values())
for n in (2, 4, 8, 16):
    m = fixed + makespan(ts, n)
    print(f"estimate jobs {n:2d} with the cores for it: {m:6.2f} s, speed-up {serial/m:.2f}x over one pg_dump (floor: the largest part, {fixed + max(ts):.2f} s)")
print(f"load average at the end: {open('/proc/loadavg').read().split()[0]} on {__import__('os').cpu_count()} CPUs (other work on the machine shows here)")
PY
