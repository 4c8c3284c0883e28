#!/usr/bin/env bash
# Benchmark of the encrypted backup and restore paths (issues 3 and 15): on a
# database of SIZE_MB, run alternately, ROUNDS times each,
#   bare    pg_dump -Fc -Z0 > FILE                              (the physical limit)
#   shell   pg_dump -Fc -Z0 | zstd -3 | age -r KEY | tee >(sha256sum) > FILE
#   tuned   pg_dump -Fc -Z0 | zstd -1 -T0 | age -r KEY | tee >(sha256sum) > FILE
#   sluice  sluice run plans/backup.yaml (default settings)
#   s3      the same plan with dest=s3://bench/... on a local S3 server
#           (versitygw, posix backend, 127.0.0.1; multipart upload of unknown
#           length, 4 parts of 16 MiB in flight)
#   s3file  the same client (sluice's upload step) sending a finished backup
#           file: download file:// -> upload s3://
#   rshell  createdb; age -d | zstd -d | pg_restore --single-transaction (one backup made by sluice)
#   rcheck  the same after sha256sum -c of its sidecar, as docs/backups.md's
#           recipe checks the stored bytes before it restores them
#   rsluice sluice restore MANIFEST --to DSN --create (the same backup)
# and print wall time, peak RSS and stored size per run, then the medians and
# the ratios of issue 15's goals (sluice/tuned wall <= 1.00, stored <= 1.02,
# peak RSS < 64 MiB; rsluice/rshell wall <= 1.00) and the older ones.
# sluice restore checks the whole object's digest before a byte reaches
# pg_restore, so rcheck is the reference that does the same work.
# Peak RSS is sluice's (GNU time: the largest process of the tree), not the
# S3 server's; cpu is user+sys of the whole command (sluice with pg_dump or
# pg_restore; every process of a shell pipeline), not the database
# server's, which both sides cost alike. On a machine shared with other
# work, cpu is the steadier figure. Run it at two sizes to see whether RSS
# stays flat.
#
# usage: bench/pipeline.sh [SIZE_MB (default 1024)] [ROUNDS (default 3)]
# (or SIZE_MB=... ROUNDS=... in the environment; VARIANTS="bare tuned sluice"
# runs only those)
# Needs PostgreSQL, zstd, age, versitygw and GNU time
# (scripts/install-deps.sh installs the first three,
# scripts/install-versitygw.sh versitygw; `apt-get install time` the last)
# and curl (creates the bucket).
set -euo pipefail
size_mb=${1:-${SIZE_MB:-1024}}
rounds=${2:-${ROUNDS:-3}}
variants=${VARIANTS:-bare shell tuned sluice s3 s3file rshell rcheck rsluice}
repo=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 755 "$work"
. "$repo/bench/cluster.sh"
cleanup() {
  stop_cluster
  [ -n "${s3pid:-}" ] && kill "$s3pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/out"
start_cluster

# SQL-like content: ids, names, emails, amounts, timestamps and text that
# compresses about as well as real application data (ratio ~3 with zstd -3).
rows=$((size_mb * 1024 * 1024 / 330))
echo "seeding about ${size_mb} MB ($rows rows)..." >&2
psql "$dsn" <<SQL
CREATE TABLE orders (id bigint PRIMARY KEY, customer text, email text, amount numeric(12,2),
  placed timestamptz, status text, note text);
INSERT INTO orders
SELECT g, 'Customer ' || (g % 50000), 'c' || (g % 50000) || '@example.com', (g * 7919 % 1000000) / 100.0,
  timestamptz '2024-01-01' + g * interval '7 seconds', (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
  md5(g::text) || ' ' || repeat('item ' || (g % 977) || ' ', 8) || md5((g * 31)::text)
FROM generate_series(1::bigint, $rows) AS g;
SQL
psql "$dsn" -At -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench'))" >&2

(cd "$repo" && "${GO:-go}" build -o "$work/sluice" ./cmd/sluice)
# plans/backup.yaml reads its key store from ./keys/backup.
"$work/sluice" keys init --type x25519 "$work/keys/backup" >/dev/null
# The age key is k-ID.pub/.key; s-ID.* is the store's signing key.
recipient=$(cat "$work"/keys/backup/k-*.pub)
pg_dump=$bin/pg_dump

# The local S3 server, started as steps/blob/s3test does: versitygw with its
# posix backend on a free port of 127.0.0.1; the bucket is created by curl's
# SigV4 signing. Only when an s3 variant runs.
mkdir -p "$work/s3root"
case " $variants " in *" s3 "*|*" s3file "*)
versitygw=${SLUICE_VERSITYGW:-$(command -v versitygw || echo "$("${GO:-go}" env GOPATH)/bin/versitygw")}
s3port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-0123456789 AWS_REGION=us-east-1
export SLUICE_S3_ENDPOINT=http://127.0.0.1:$s3port SLUICE_S3_PATH_STYLE=true
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  "$versitygw" --port "127.0.0.1:$s3port" --region us-east-1 --health /health --quiet posix "$work/s3root" \
  >"$work/versitygw.log" 2>&1 &
s3pid=$!
for _ in $(seq 1 100); do curl -sf "$SLUICE_S3_ENDPOINT/health" >/dev/null && break; sleep 0.1; done
curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$SLUICE_S3_ENDPOINT/bench"
;; esac
# The finished backup s3file uploads and the restore variants restore, made
# once by sluice itself.
(cd "$work" && ./sluice run "$repo/plans/backup.yaml" --state-dir "$work/state" \
  --param db="$dsn" --param dest="file://$work/finished" --log-level warn >/dev/null)
finished=$(find "$work/finished" -name '*.age' | head -n 1)
identity=$(ls "$work"/keys/backup/k-*.key | head -n 1)
# download checks the manifest's signature with the store's public keys.
cat >"$work/s3file.yaml" <<YAML
version: 1
keys:
  backup: {store: dir, path: "$work/keys/backup"}
steps:
  read: {type: download, with: {from: "file://$finished", verify_with: backup}}
  upload: {type: upload, input: read, with: {to: "s3://bench/file/\${{ run.id }}.dump.zst.age", allow_plaintext: true}}
YAML

measure() { # name, then the command: prints "name seconds maxrss_kib bytes cpu_seconds"
  local name=$1; shift
  rm -rf "$work/out"; mkdir "$work/out"
  rm -rf "$work/s3root/bench/"*
  psql "postgres://postgres@127.0.0.1:$port/postgres" -c "DROP DATABASE IF EXISTS restored" 2>/dev/null
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2; exit 1; }
  local bytes
  bytes=$(find "$work/out" "$work/s3root" -type f \( -name '*.age' -o -name '*.dump' \) -printf '%s\n' | head -n 1)
  local e m u s
  read -r e m u s <"$work/time"
  echo "$name $e $m ${bytes:-0} $(python3 -c "print(round($u + $s, 2))")"
}
restore_dsn="postgres://postgres@127.0.0.1:$port/restored"

results=$work/results
: >"$results"
load_start=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 "$rounds"); do
  # Alternate the order each round so drift hits every variant alike.
  order=$variants
  [ $((r % 2)) -eq 0 ] && order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $order; do
    case $v in
    bare) measure bare sh -c "'$pg_dump' -Fc -Z0 -d '$dsn' > '$work/out/bench.dump'" ;;
    shell) measure shell bash -c "set -o pipefail; '$pg_dump' -Fc -Z0 -d '$dsn' | zstd -q -3 | age -r '$recipient' | tee >(sha256sum >/dev/null) > '$work/out/bench.dump.zst.age'" ;;
    tuned) measure tuned bash -c "set -o pipefail; '$pg_dump' -Fc -Z0 -d '$dsn' | zstd -q -1 -T0 | age -r '$recipient' | tee >(sha256sum >/dev/null) > '$work/out/bench.dump.zst.age'" ;;
    sluice) measure sluice sh -c "cd '$work' && ./sluice run '$repo/plans/backup.yaml' --state-dir '$work/state' \
      --param db='$dsn' --param dest='file://$work/out' --log-level warn" ;;
    s3) measure s3 sh -c "cd '$work' && ./sluice run '$repo/plans/backup.yaml' --state-dir '$work/state' \
      --param db='$dsn' --param dest='s3://bench/backups' --log-level warn" ;;
    s3file) measure s3file sh -c "cd '$work' && ./sluice run '$work/s3file.yaml' --state-dir '$work/state' --log-level warn" ;;
    rshell) measure rshell bash -c "set -o pipefail; '$bin/psql' -X -q -d 'postgres://postgres@127.0.0.1:$port/postgres' -c 'CREATE DATABASE restored' && \
      age -d -i '$identity' '$finished' | zstd -q -d | '$bin/pg_restore' --no-owner --single-transaction --exit-on-error -d '$restore_dsn'" ;;
    rcheck) measure rcheck bash -c "set -o pipefail; cd '$(dirname "$finished")' && sha256sum -c --quiet '$(basename "$finished").sha256' && \
      '$bin/psql' -X -q -d 'postgres://postgres@127.0.0.1:$port/postgres' -c 'CREATE DATABASE restored' && \
      age -d -i '$identity' '$finished' | zstd -q -d | '$bin/pg_restore' --no-owner --single-transaction --exit-on-error -d '$restore_dsn'" ;;
    rsluice) measure rsluice "$work/sluice" restore "$finished.manifest.json" --to "$restore_dsn" --create \
      --key-dir "$work/keys/backup" --state-dir "$work/state" ;;
    esac | tee -a "$results"
  done
done

python3 - "$results" "$load_start" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {}
for name in ("bare", "shell", "tuned", "sluice", "s3", "s3file", "rshell", "rcheck", "rsluice"):
    rs = [r for r in rows if r[0] == name]
    if not rs:
        continue
    med[name] = (statistics.median(float(r[1]) for r in rs),
                 max(int(r[2]) for r in rs) / 1024,
                 statistics.median(int(r[3]) for r in rs),
                 statistics.median(float(r[4]) for r in rs))
    print(f"{name:7s} median {med[name][0]:7.2f} s  cpu {med[name][3]:6.2f} s  peak RSS {med[name][1]:7.1f} MiB  stored {med[name][2]/2**20:8.1f} MiB  ({len(rs)} runs)")
def ratio(a, b, what, goal=""):
    if a in med and b in med:
        x, y = med[a], med[b]
        line = f"{a+'/'+b:14s} wall time {x[0]/y[0]:.2f}x  cpu {x[3]/y[3]:.2f}x"
        if what == "backup" and y[2]:
            line += f"  stored size {x[2]/y[2]:.3f}x"
        print(line + (f"  ({goal})" if goal else ""))
ratio("sluice", "tuned", "backup", "issue 15 goals: wall <= 1.00, stored <= 1.02")
ratio("sluice", "bare", "backup", "stored: uncompressed")
ratio("tuned", "bare", "backup", "stored: uncompressed")
ratio("sluice", "shell", "backup")
ratio("rsluice", "rshell", "restore", "issue 15 goal: <= 1.00")
ratio("rsluice", "rcheck", "restore", "both check the digest before restoring")
for name in ("sluice", "rsluice"):
    if name in med:
        print(f"{name} peak RSS {med[name][1]:.1f} MiB (goal < 64, with pg_dump/pg_restore)")
if "s3" in med and "sluice" in med and "s3file" in med and "bare" in med:
    s, s3, s3f, b = med["sluice"], med["s3"], med["s3file"], med["bare"]
    mib = lambda m: m[2] / 2**20
    print(f"s3 backup    {mib(b)/s3[0]:6.1f} MiB/s of dump (bare dump size / wall time), {mib(s3)/s3[0]:.1f} MiB/s stored  s3/sluice wall time {s3[0]/s[0]:.2f}x  s3/s3file wall time {s3[0]/s3f[0]:.2f}x")
    print(f"s3file       {mib(s3f)/s3f[0]:6.1f} MiB/s (upload of a finished file, same client)")
    budget = 4 * 16  # parts_in_flight x part_size (MiB), the documented default
    print(f"s3 peak RSS {s3[1]:.1f} MiB = file-backup RSS {s[1]:.1f} MiB + {s3[1]-s[1]:.1f} MiB (part budget {budget} MiB: within={s3[1]-s[1] <= budget + 8})")
    print(f"s3file peak RSS {s3f[1]:.1f} MiB (part budget {budget} MiB)")
print(f"load average (1 min): {sys.argv[2]} at the start, {open('/proc/loadavg').read().split()[0]} at the end, on {__import__('os').cpu_count()} CPUs (other work on the machine shows here)")
PY
