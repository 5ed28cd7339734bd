#!/bin/sh
# mk/deps.sh's decisions, with stub dpkg-query, apt-get and id first on PATH
# and the policy-rc.d path pointed into a temporary folder. Each case checks
# the exit status, whether apt-get ran, and what became of policy-rc.d.
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/larder-deps-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { # name, condition...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}

# stubs: behaviour chosen through files in $tmp
mkdir -p "$tmp/bin"
cat > "$tmp/bin/dpkg-query" <<'EOF'
#!/bin/sh
# the last argument is the package; it is missing when listed in $STUB/missing
pkg=$(eval echo "\${$#}")
if grep -qx "$pkg" "$STUB/missing" 2>/dev/null; then exit 1; fi
printf 'install ok installed'
EOF
cat > "$tmp/bin/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >> "$STUB/apt.log"
# record whether services were denied while apt ran
if [ "$1" = install ]; then
    if [ -x "$LARDER_POLICY_RC" ]; then echo denied >> "$STUB/apt.log"; fi
fi
exit "$(cat "$STUB/apt.rc" 2>/dev/null || echo 0)"
EOF
cat > "$tmp/bin/id" <<'EOF'
#!/bin/sh
cat "$STUB/uid"
EOF
printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/node"
printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/npm"
chmod 755 "$tmp/bin/"*

run_case() { # mode; sets rc, out
    out=$(STUB="$tmp/case" LARDER_POLICY_RC="$tmp/case/policy-rc.d" PATH="$tmp/bin:$PATH" \
          sh "$here/mk/deps.sh" "$1" 2>&1)
    rc=$?
}
new_case() { rm -rf "$tmp/case"; mkdir -p "$tmp/case"; echo 0 > "$tmp/case/uid"; }

# 1. nothing missing: exit 0, apt-get never runs
new_case
run_case test
check "nothing missing exits 0" [ "$rc" = 0 ]
check "nothing missing runs no apt-get" [ ! -e "$tmp/case/apt.log" ]

# 2. packages missing, a policy-rc.d already there: exit 0, installed, file kept as it was
new_case
printf 'libev-dev\nredis-tools\n' > "$tmp/case/missing"
printf '#!/bin/sh\n# theirs\nexit 101\n' > "$tmp/case/policy-rc.d"; chmod 755 "$tmp/case/policy-rc.d"
cp "$tmp/case/policy-rc.d" "$tmp/case/policy.orig"
run_case test
check "missing + existing policy exits 0" [ "$rc" = 0 ]
check "missing + existing policy installs both" grep -q "install .*libev-dev.*redis-tools" "$tmp/case/apt.log"
check "existing policy left untouched" cmp -s "$tmp/case/policy-rc.d" "$tmp/case/policy.orig"

# 3. packages missing, no policy-rc.d: exit 0, services denied during install, file removed after
new_case
echo libhiredis-dev > "$tmp/case/missing"
run_case test
check "missing + no policy exits 0" [ "$rc" = 0 ]
check "services denied during install" grep -qx denied "$tmp/case/apt.log"
check "temporary policy removed" [ ! -e "$tmp/case/policy-rc.d" ]

# 4. run mode asks for redis-tools (the tour needs redis-cli) but not test tools
new_case
printf 'redis-tools\nlibhiredis-dev\n' > "$tmp/case/missing"
run_case run
check "run mode exits 0" [ "$rc" = 0 ]
check "run mode installs redis-tools" grep -q "install .*redis-tools" "$tmp/case/apt.log"
check "run mode skips test packages" sh -c "! grep -q libhiredis-dev '$tmp/case/apt.log'"

# 5. not root: exit 1, lists what is missing, runs no apt-get
new_case
echo libev-dev > "$tmp/case/missing"
echo 1000 > "$tmp/case/uid"
run_case test
check "not root exits 1" [ "$rc" = 1 ]
check "not root names the package" sh -c "echo '$out' | grep -q 'missing Debian packages: libev-dev'"
check "not root runs no apt-get" [ ! -e "$tmp/case/apt.log" ]

# 6. apt-get fails: non-zero exit, and the temporary policy is still removed
new_case
echo libev-dev > "$tmp/case/missing"
echo 100 > "$tmp/case/apt.rc"
run_case test
check "failed install exits non-zero" [ "$rc" != 0 ]
check "failed install removes temporary policy" [ ! -e "$tmp/case/policy-rc.d" ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
