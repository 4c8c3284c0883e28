# Sourced by the benchmarks: a throwaway PostgreSQL cluster under $work
# (which the caller made), trust auth on 127.0.0.1, fsync off, with an empty
# database "bench". Sets bin, port and dsn; defines as_pg, psql and
# stop_cluster (for the caller's EXIT trap). start_cluster's arguments are
# more server options ("-c name=value").
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
stop_cluster() { as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; }

start_cluster() {
  mkdir "$work/data" "$work/sock"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$work/data" "$work/sock"; fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
  as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/data/server.log" -w \
    -o "-p $port -k $work/sock -c listen_addresses=127.0.0.1 -c fsync=off $*" start >/dev/null
  dsn="postgres://postgres@127.0.0.1:$port/bench"
  psql "postgres://postgres@127.0.0.1:$port/postgres" -c "CREATE DATABASE bench"
}
