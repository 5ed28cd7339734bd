#!/bin/sh
# Install the Debian packages Larder needs, only those missing.
#   mk/deps.sh run    runtime + build packages (make run)
#   mk/deps.sh test   the above + test/benchmark tools (make test, make bench)
# As root it runs apt-get (update first); otherwise it lists what is missing.
# Exit status: 0 when nothing is missing or the install succeeded, 1 when
# packages are missing and we are not root, apt-get's status when it fails.
# Installing redis-server would start a system Redis on 6379 under systemd;
# a temporary policy-rc.d denies every service start during the install.
set -e
# redis-tools is in RUN_PKGS: README's tour uses redis-cli right after make run.
RUN_PKGS="gcc make pkg-config libev-dev liburing-dev libjemalloc-dev libssl-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
          libpq-dev redis-tools"
TEST_PKGS="libhiredis-dev redis-tools redis-server tcl sqlite3 libsqlite3-dev python3 python3-redis
           dpkg-dev xz-utils openssl procps clang-format postgresql nutcracker"
pkgs=$RUN_PKGS
[ "$1" = "test" ] && pkgs="$RUN_PKGS $TEST_PKGS"

missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
# Node.js and npm (the ioredis/redlock lock test) often come from NodeSource,
# whose nodejs bundles npm and conflicts with Debian's npm: ask for Debian's
# packages only when the commands are absent.
if [ "$1" = "test" ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "larder: missing Debian packages:$missing" >&2
    echo "larder: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "larder: installing$missing"
# A policy-rc.d that was already there (container images ship one) is left
# as it is; only one made here is removed. The trap must not turn "nothing to
# remove" into a failing exit status, hence the if (not `test && rm`).
policy=${LARDER_POLICY_RC:-/usr/sbin/policy-rc.d}
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
cleanup() {
    if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "larder: packages installed"
exit 0
