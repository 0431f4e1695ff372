#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: its own cluster in DIR, listening on 127.0.0.1:PORT
# (default 55432) only, trust authentication, a database "sluice_test", no Unix socket.
#
#   scripts/pg-test-server.sh start DIR [PORT]   create the cluster if needed and start it
#   scripts/pg-test-server.sh stop  DIR          stop it (fine when it is not running)
#   scripts/pg-test-server.sh env   DIR [PORT]   print connection settings (PGHOST=… lines)
#
# Run as root, the server runs as the user postgres (DIR is handed to it; its parent folders
# must be reachable by that user, as /tmp is); otherwise as the current user. Needs the Debian
# `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/<version>/bin; PG_BIN
# overrides the folder).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|env DIR [PORT]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-}

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    local best=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && best=$d
    done
    if [ -z "$best" ] && command -v pg_ctl >/dev/null; then
        best=$(dirname "$(command -v pg_ctl)")
    fi
    if [ -z "$best" ]; then
        echo "$0: PostgreSQL server programs not found (install the postgresql package: scripts/install-deps.sh check)" >&2
        exit 1
    fi
    echo "$best"
}

# Runs a command as the server's user.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

remembered_port() {
    if [ -n "$port" ]; then
        echo "$port"
    elif [ -f "$dir/port" ]; then
        cat "$dir/port"
    else
        echo 55432
    fi
}

print_env() {
    local p
    p=$(remembered_port)
    echo "PGHOST=127.0.0.1"
    echo "PGPORT=$p"
    echo "PGUSER=postgres"
    echo "PGDATABASE=sluice_test"
    echo "SLUICE_PG_URL=postgresql://postgres@127.0.0.1:$p/sluice_test"
}

running() {
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

case "$cmd" in
start)
    bin=$(find_bin)
    port=$(remembered_port)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        [ -d "$dir/data" ] && chown -R postgres: "$dir/data"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "$0: $dir is not reachable by the user postgres: let it search the parent folders (chmod o+x)" >&2
            exit 1
        fi
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    if ! running; then
        echo "$port" >"$dir/port.tmp" && mv "$dir/port.tmp" "$dir/port"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/port"
        # No Unix socket (DIR may be too long for one); TCP on loopback only; no fsync (throwaway).
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null || {
            echo "$0: the server did not start; its log follows" >&2
            tail -n 30 "$dir/server.log" >&2 || true
            exit 1
        }
    fi
    port=$(remembered_port)
    psql_cmd=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
    if command -v psql >/dev/null; then
        psql=(psql)
    else
        psql=("$bin/psql")
    fi
    psql_cmd[0]=${psql[0]}
    if [ "$("${psql_cmd[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'sluice_test'")" != "1" ]; then
        "${psql_cmd[@]}" -c 'CREATE DATABASE sluice_test'
    fi
    echo "PostgreSQL running in $dir on 127.0.0.1:$port (user postgres, trust), database sluice_test"
    print_env
    ;;
stop)
    bin=$(find_bin)
    if [ -d "$dir/data" ] && running; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
        echo "PostgreSQL in $dir stopped"
    else
        echo "PostgreSQL in $dir is not running"
    fi
    ;;
env)
    print_env
    ;;
*)
    usage
    ;;
esac
