#!/bin/sh
# Lock acquire/release round trips: Larder (LOCK.* and the Lua lock scripts)
# vs the same scripts on Debian's redis-server; prints pairs/s and the ratio.
# Called by `make bench` (B=build dir). Starts and stops both servers itself.
set -e
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p "$B"
cc -O2 -o "$B/bench-lock" mk/bench-lock.c -lhiredis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LP=$(free_port); RP=$(free_port)
DIR=$(mktemp -d)
wait_ready() { # log pid
    n=0
    until grep -q "Ready to accept connections" "$1"; do
        n=$((n + 1)); kill -0 "$2" 2>/dev/null && [ $n -lt 500 ] || { cat "$1"; exit 1; }
        sleep 0.01
    done
}
"$B/larder-server" --port "$LP" --save "" > "$DIR/larder.log" 2>&1 &
LPID=$!
redis-server --port "$RP" --save "" --appendonly no --dir "$DIR" > "$DIR/redis.log" 2>&1 &
RPID=$!
trap 'kill $LPID $RPID 2>/dev/null; wait $LPID $RPID 2>/dev/null; rm -rf "$DIR"' EXIT
wait_ready "$DIR/larder.log" $LPID
wait_ready "$DIR/redis.log" $RPID
"$B/bench-lock" "$LP" "$RP" "${PAIRS:-20000}"
