#!/bin/sh
# mk/depcheck.py on the tree as it is (passes), and on copies of src/ and
# modules/ with one forbidden include added by hand (each must fail and name
# the edge).
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/larder-depcheck-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { # name, condition...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}

out=$(/usr/bin/python3 "$here/mk/depcheck.py" "$here" 2>&1); rc=$?
echo "$out" | tail -n 1
check "the tree passes" [ "$rc" = 0 ]

# with_edge FILE INCLUDE: copy the tree, append the include to FILE, run the check
with_edge() {
    rm -rf "$tmp/tree" && mkdir -p "$tmp/tree"
    cp -R "$here/src" "$here/modules" "$here/mk" "$tmp/tree/"
    printf '#include "%s"\n' "$2" >> "$tmp/tree/$1"
    out=$(/usr/bin/python3 "$tmp/tree/mk/depcheck.py" "$tmp/tree" 2>&1); rc=$?
}

with_edge src/sql/pager.c server/server.h
check "sql -> server fails" [ "$rc" != 0 ]
check "sql -> server is named" sh -c 'echo "$1" | grep -q "src/sql/pager.c:[0-9]*: sql -> server/server.h not allowed"' _ "$out"

with_edge src/kv/db.c resp/resp.h
check "kv -> resp fails" [ "$rc" != 0 ]

with_edge src/persist/core.c sql/sql.h
check "persist -> sql fails" [ "$rc" != 0 ]

with_edge src/server/dispatch.c persist/persist_api.h
check "server -> persist fails (only main.c wires it)" [ "$rc" != 0 ]

with_edge src/resp/request.c util/mem.h
check "resp -> util passes" [ "$rc" = 0 ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
