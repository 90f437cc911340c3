# Helpers shared by scripts/run and scripts/test: find (or install) PostgreSQL's server
# binaries and start a private cluster in a folder of ours. Sourced, not executed.

# PostgreSQL refuses to run as root, so its commands run as the `postgres` user when we are root.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Prints the newest PostgreSQL bin folder, installing the server package with apt when none is there.
postgres_bindir() {
    local found=""
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && found="$dir"
    done
    if [ -z "$found" ] && command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        found="$(pg_config --bindir)"
    fi
    if [ -z "$found" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "PostgreSQL server not found; installing it with apt-get…" >&2
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
            for dir in /usr/lib/postgresql/*/bin; do
                [ -x "$dir/initdb" ] && found="$dir"
            done
        fi
    fi
    if [ -z "$found" ]; then
        echo "error: PostgreSQL server binaries not found; install the 'postgresql' package" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    echo "$found"
}

# Prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

# init_cluster BINDIR DATADIR: initdb once, with `swapline` as the superuser and trust on loopback only.
init_cluster() {
    local bindir=$1 datadir=$2
    if [ ! -f "$datadir/PG_VERSION" ]; then
        mkdir -p "$datadir"
        [ "$(id -u)" = 0 ] && chown postgres "$datadir" && chmod 700 "$datadir"
        as_postgres "$bindir/initdb" -D "$datadir" -U swapline --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
}

# start_cluster BINDIR DATADIR PORT [extra server options]: listens on 127.0.0.1:PORT only, socket inside DATADIR.
start_cluster() {
    local bindir=$1 datadir=$2 port=$3
    shift 3
    as_postgres "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
        -o "-p $port -k $datadir -c listen_addresses=127.0.0.1 $*" start >/dev/null
}

stop_cluster() {
    local bindir=$1 datadir=$2
    as_postgres "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 2>&1 || true
}

# create_database BINDIR PORT NAME: creates it unless it exists.
create_database() {
    local bindir=$1 port=$2 name=$3
    if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U swapline -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
        "$bindir/createdb" -h 127.0.0.1 -p "$port" -U swapline "$name"
    fi
}
