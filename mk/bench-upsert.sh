#!/bin/sh
# mk/bench-upsert.sh BUILD_DIR — instructions per row of the write-behind
# upsert (mk/bench-upsert.c) on our engine and on SQLite, under callgrind.
# Run it under the shared bench lock.
B=${1:-build}
N=${BENCH_UPSERTS:-100000}
T=$(mktemp -d)
for f in ours_upserts lite_upserts; do
    BENCH_UPSERTS=$N valgrind --tool=callgrind --callgrind-out-file=$T/$f.out \
        --toggle-collect=$f "$B/bench-upsert" >/dev/null 2>$T/$f.err || { cat $T/$f.err; exit 1; }
    ir=$(grep '^summary:' $T/$f.out | awk '{print $2}')
    echo "$f: $ir Ir, $((ir / N)) per row"
    eval "ir_$f=$ir"
done
echo "ours/sqlite instructions: $(echo "scale=2; $ir_ours_upserts / $ir_lite_upserts" | bc)"
rm -rf "$T"
