#!/bin/sh
# ioredis + redlock from npm against larder-server: `npm ci` (node_modules is
# not committed), start a server on a free port (readiness: its "Ready to
# accept connections" line), run locks.test.js, stop the server.
# Prints "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SERVER=${LARDER_SERVER:-$ROOT/build/larder-server}
cd "$HERE"
if ! npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1; then
    echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$SERVER" --port "$PORT" --save "" > "$LOG" 2>&1 &
PID=$!
tries=0
until grep -q "Ready to accept connections" "$LOG"; do
    tries=$((tries + 1))
    if ! kill -0 "$PID" 2>/dev/null || [ $tries -gt 500 ]; then
        cat "$LOG"; echo "0 passed, 1 failed"; rm -f "$LOG"; exit 1
    fi
    sleep 0.01
done
PORT=$PORT node locks.test.js
rc=$?
kill "$PID"; wait "$PID" 2>/dev/null
rm -f "$LOG"
exit $rc
