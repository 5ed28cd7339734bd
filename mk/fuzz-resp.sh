#!/bin/sh
# mk/fuzz-resp.sh SECONDS — runs the two RESP fuzz targets (make fuzz-resp),
# SECONDS split between them, each in libFuzzer's fork mode so that a
# finding is saved and the run goes on. Findings land in
# tests/fuzz/regress-resp/<target>-<kind>-<sha1> (make test replays them);
# the corpus grows in build-fuzz/corpus-resp-<target>. Prints, per target,
# the executions, coverage (edges "cov", features "ft"), corpus size and
# findings, then the closing line "N passed, N failed" (failed = targets
# with findings).
secs=${1:-600}
half=$((secs / 2))
[ "$half" -lt 1 ] && half=1
mkdir -p tests/fuzz/regress-resp build-fuzz/corpus-resp-parser build-fuzz/corpus-resp-client
passed=0; failed=0
for t in parser client; do
    bin=build-fuzz/fuzz_resp
    # both targets run with LeakSanitizer: the keyspace's tables keep no
    # hash bits in their entry pointers under ASan (src/kv/dict.c), so
    # every key stays reachable
    [ "$t" = client ] && bin=build-fuzz/fuzz_client
    log=build-fuzz/fuzz-resp-$t.log
    before=$(ls tests/fuzz/regress-resp | grep -c "^$t-")
    echo "fuzz-resp: $t for ${half}s (log: $log)"
    ASAN_OPTIONS="detect_leaks=1" "$bin" -detect_leaks=1 -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$half" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -dict=tests/fuzz/resp.dict -artifact_prefix="tests/fuzz/regress-resp/$t-" \
        build-fuzz/corpus-resp-$t tests/fuzz/seeds-resp > "$log" 2>&1
    after=$(ls tests/fuzz/regress-resp | grep -c "^$t-")
    found=$((after - before))
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    rate=$(echo "$last" | sed -n 's/.*exec\/s:* \([0-9]*\).*/\1/p')
    echo "  $t: execs ${execs:-?} (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, new findings $found"
    if [ "$found" -gt 0 ]; then
        ls -t tests/fuzz/regress-resp | grep "^$t-" | head -n "$found" | sed 's/^/    /'
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
