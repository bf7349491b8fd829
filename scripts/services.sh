#!/usr/bin/env bash
# Start and stop the real services the production-mode tests use, as local processes on
# 127.0.0.1 (no Docker): QuestDB (the server jar from Maven Central on the machine's Java)
# and Redis (Debian's redis-server). Each gets a free port and a fresh data folder under
# target/services/<name>/; `env` prints the variables the tests read.
#
#   scripts/services.sh up [questdb|redis|all]
#   scripts/services.sh down [questdb|redis|all]
#   scripts/services.sh env            # SEAMLESS_TEST_QUESTDB=..., SEAMLESS_TEST_REDIS=...
#
# QUESTDB_VERSION (default: the newest 9.3.x on Maven Central; 9.4+ needs Java 25) and
# QUESTDB_CACHE (default ~/.cache/seamless/questdb) choose the jar.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/target/services"
mkdir -p "$root"

# N distinct free ports (the sockets stay bound until all are chosen: asked one at a time,
# the kernel may hand out a port it just released twice, and QuestDB's HTTP and min-HTTP
# servers then collide).
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
free_port() { free_ports 1; }

wait_for() { # wait_for SECONDS CMD...
    local secs=$1; shift
    for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

questdb_jar() {
    local cache="${QUESTDB_CACHE:-$HOME/.cache/seamless/questdb}" base="https://repo1.maven.org/maven2/org/questdb/questdb"
    mkdir -p "$cache"
    local v="${QUESTDB_VERSION:-}"
    if [ -z "$v" ]; then
        v=$(ls "$cache" 2>/dev/null | sed -n 's/^questdb-\(9\.3\.[0-9]*\)\.jar$/\1/p' | sort -V | tail -1)
    fi
    if [ -z "$v" ]; then
        v=$(curl -sSf "$base/maven-metadata.xml" | grep -o '<version>9\.3\.[0-9]*</version>' | sed 's/<[^>]*>//g' | sort -V | tail -1)
    fi
    [ -n "$v" ] || { echo "cannot find a QuestDB 9.3.x release on Maven Central" >&2; return 1; }
    local jar="$cache/questdb-$v.jar"
    if [ ! -s "$jar" ]; then
        echo "downloading org.questdb:questdb:$v from Maven Central" >&2
        curl -sSfL -o "$jar.tmp" "$base/$v/questdb-$v.jar" && mv "$jar.tmp" "$jar"
    fi
    echo "$jar"
}

questdb_up() {
    local dir="$root/questdb"
    questdb_down
    command -v java >/dev/null || { echo "QuestDB needs Java 17+: apt-get install -y openjdk-17-jre-headless" >&2; return 1; }
    local jar; jar=$(questdb_jar)
    # QuestDB maps every column file of every partition: the kernel's default of 65530
    # mappings runs out after a few hundred tables/partitions ("Not enough space").
    if [ "$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)" -lt 1048576 ]; then
        sysctl -q -w vm.max_map_count=1048576 2>/dev/null || echo "warning: cannot raise vm.max_map_count (QuestDB may run out of mappings)" >&2
    fi
    rm -rf "$dir"; mkdir -p "$dir/conf"
    local http pg ilp min
    read -r http pg ilp min <<< "$(free_ports 4)"
    cat > "$dir/conf/server.conf" <<CONF
http.net.bind.to=127.0.0.1:$http
pg.net.bind.to=127.0.0.1:$pg
line.tcp.net.bind.to=127.0.0.1:$ilp
http.min.net.bind.to=127.0.0.1:$min
line.udp.enabled=false
telemetry.enabled=false
CONF
    ulimit -n 65536 2>/dev/null || true
    nohup java -Xms256m -Xmx2g -p "$jar" -m io.questdb/io.questdb.ServerMain -d "$dir" >"$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    echo "$http" > "$dir/http_port"; echo "$pg" > "$dir/pg_port"; echo "$jar" > "$dir/jar"
    if ! wait_for 60 curl -sf "http://127.0.0.1:$http/ping"; then
        echo "QuestDB did not answer within 60 s; log:" >&2; tail -20 "$dir/server.log" >&2; return 1
    fi
    echo "questdb up: http 127.0.0.1:$http, pg 127.0.0.1:$pg ($(basename "$jar"))"
}

questdb_down() {
    local dir="$root/questdb"
    if [ -f "$dir/pid" ]; then
        local pid; pid=$(cat "$dir/pid")
        kill "$pid" 2>/dev/null || true
        wait_for 20 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/pid"
    fi
}

redis_up() {
    local dir="$root/redis"
    redis_down
    if ! command -v redis-server >/dev/null; then
        echo "redis-server is missing: apt-get install -y redis-server (.ci/run does this)" >&2; return 1
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    local port; port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/pid" --logfile "$dir/server.log" >/dev/null
    echo "$port" > "$dir/port"
    wait_for 20 redis-cli -p "$port" ping || { echo "Redis did not answer" >&2; return 1; }
    echo "redis up: 127.0.0.1:$port"
}

redis_down() {
    local dir="$root/redis"
    if [ -f "$dir/port" ]; then
        redis-cli -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; rm -f "$dir/pid"; fi
}

print_env() {
    [ -f "$root/questdb/http_port" ] && echo "SEAMLESS_TEST_QUESTDB=questdb://127.0.0.1:$(cat "$root/questdb/http_port")?pg=$(cat "$root/questdb/pg_port")"
    [ -f "$root/questdb/jar" ] && echo "SEAMLESS_TEST_QUESTDB_JAR=$(cat "$root/questdb/jar")"
    [ -f "$root/redis/port" ] && echo "SEAMLESS_TEST_REDIS=redis://127.0.0.1:$(cat "$root/redis/port")"
    return 0
}

action=${1:-}; what=${2:-all}
case "$action" in
    up) [ "$what" = redis ] || [ "$what" = all ] && redis_up; [ "$what" = questdb ] || [ "$what" = all ] && questdb_up; true ;;
    down) [ "$what" = redis ] || [ "$what" = all ] && redis_down; [ "$what" = questdb ] || [ "$what" = all ] && questdb_down; true ;;
    env) print_env ;;
    *) echo "usage: $0 up|down [questdb|redis|all] | env" >&2; exit 2 ;;
esac
