#!/bin/sh
# make install: a staged install (DESTDIR, PREFIX=/usr) puts the binaries, the
# store module and a conf whose loadmodule names the installed module where
# they belong; a direct install (PREFIX only) is started on its installed conf
# as is, on a free port, answers PING and runs SQL through the module, and
# stops on SIGTERM.
here=$(cd "$(dirname "$0")/../.." && pwd)
B=${LARDER_BUILD:-$here/build}
san=0
[ "$(basename "$B")" = build-san ] && san=1
tmp=$(mktemp -d /tmp/larder-install-test.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { # name, condition...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}
inst() { # make arguments...
    nice -n 5 make -s -C "$here" --no-print-directory SANITIZE=$san install "$@" > "$tmp/make.log" 2>&1
}

# staged: everything under DESTDIR, the conf naming the final location
check "make install DESTDIR PREFIX=/usr" inst DESTDIR="$tmp/stage" PREFIX=/usr
s=$tmp/stage/usr
for f in bin/larder-server bin/larder-sql bin/larder-check lib/larder/modules/sqlstore.so; do
    check "installed $f" test -x "$s/$f"
done
check "installed etc/larder/larder.conf" test -f "$s/etc/larder/larder.conf"
check "conf loads the installed module" \
    grep -qx 'loadmodule /usr/lib/larder/modules/sqlstore.so' "$s/etc/larder/larder.conf"
check "nothing outside PREFIX" test "$(ls "$tmp/stage")" = usr

# direct: the installed server on the installed conf, unchanged
check "make install PREFIX" inst PREFIX="$tmp/p"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/run"
(cd "$tmp/run" && exec "$tmp/p/bin/larder-server" "$tmp/p/etc/larder/larder.conf" --port "$port" \
    > "$tmp/server.log" 2>&1) &
pid=$!
up=0
for i in $(seq 1 100); do
    if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]; then up=1; break; fi
    sleep 0.1
done
check "installed server answers PING" test "$up" = 1
check "store module loaded" test "$(redis-cli -p "$port" SQL.QUERY 'SELECT 40 + 2' 2>&1)" = 42
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "clean exit on SIGTERM (status $rc)" test "$rc" = 0
check "store created in the working directory" test -f "$tmp/run/larder.db"
[ "$failed" = 0 ] || { tail -n 20 "$tmp/make.log" "$tmp/server.log"; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
