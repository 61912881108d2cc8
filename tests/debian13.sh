#!/usr/bin/env bash
# The Debian 13 lane: tollgate on trixie's libraries (librdkafka 2.8,
# hiredis 1.2, curl 8.14, gcc 14, Redis 8), in the root that
# deploy/local/debian13.sh makes and caches.
#
#   tests/debian13.sh [PYTEST ARGS...]
#
# Inside the root it runs tests/run.sh: an ASan/UBSan -Werror build into
# build-deb13/, ctest, a stack of its own (state in .local/deb13), and
# pytest on the files of tests/debian13.list only. Nothing it writes in the
# repository is shared with the host lane (build-test/, .local/test); if the
# repository belongs to another user than root, what the lane made is given
# back to that user on exit.
#
# Ports (the root shares the host's loopback), each movable:
#   TOLLGATE_KAFKA_PORT_DEB13 25092, TOLLGATE_KAFKA_CONTROLLER_PORT_DEB13
#   25093, TOLLGATE_KAFKA_SASL_PORT_DEB13 25094, TOLLGATE_REDIS_PORT_DEB13
#   25379, TOLLGATE_SIM_PORT_DEB13 25080 (below the ephemeral range that
#   outgoing connections take ports from, 32768 and up)
# and deploy/local/debian13.sh's TOLLGATE_DEBIAN13_ROOT etc.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
LIST=$REPO/tests/debian13.list
BUILD=$REPO/build-deb13
STATE=$REPO/.local/deb13

# The list's paths, without comments and blank lines; each must exist.
paths=()
while read -r line; do
	line=${line%%#*}
	read -r line <<<"$line" || true
	[[ -n $line ]] || continue
	[[ -e $REPO/${line%%::*} ]] || {
		echo "tests/debian13.list: no such file ${line%%::*}" >&2
		exit 2
	}
	paths+=("$line")
done <"$LIST"
((${#paths[@]} > 0)) || { echo "tests/debian13.list lists nothing" >&2; exit 2; }

owner=$(stat -c %u:%g "$REPO")
# shellcheck disable=SC2317 # called by the trap
give_back() {
	[[ $owner == 0:0 ]] && return 0
	chown -R "$owner" "$BUILD" "$STATE" 2>/dev/null || true
}
trap give_back EXIT

export TOLLGATE_TEST_BUILD=$BUILD
export TOLLGATE_STATE_DIR_TEST=$STATE
export TOLLGATE_TEST_PATHS="${paths[*]}"
export TOLLGATE_KAFKA_PORT_TEST=${TOLLGATE_KAFKA_PORT_DEB13:-25092}
export TOLLGATE_KAFKA_CONTROLLER_PORT_TEST=${TOLLGATE_KAFKA_CONTROLLER_PORT_DEB13:-25093}
export TOLLGATE_KAFKA_SASL_PORT_TEST=${TOLLGATE_KAFKA_SASL_PORT_DEB13:-25094}
export TOLLGATE_REDIS_PORT_TEST=${TOLLGATE_REDIS_PORT_DEB13:-25379}
export TOLLGATE_SIM_PORT_TEST=${TOLLGATE_SIM_PORT_DEB13:-25080}
"$REPO/deploy/local/debian13.sh" run bash -c '
	. /etc/os-release
	[[ $VERSION_ID == 13 ]] || { echo "not in Debian 13 ($PRETTY_NAME)" >&2; exit 1; }
	echo "Debian $VERSION_ID: librdkafka $(pkg-config --modversion rdkafka)," \
		"hiredis $(pkg-config --modversion hiredis)," \
		"curl $(pkg-config --modversion libcurl), $(gcc --version | head -n 1)," \
		"$(redis-server --version | cut -d" " -f1-3)" >&2
	exec tests/run.sh "$@"' lane "$@"
