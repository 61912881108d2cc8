#!/usr/bin/env bash
# The test command: unit tests, then integration and simulator tests against
# a real Kafka, Redis and the Bedrock simulator.
#
#   tests/run.sh [PYTEST ARGS...]      e.g. tests/run.sh -k budget -x
#
# Builds with sanitizers into build-test/, runs ctest, starts an isolated
# stack (state in .local/test, Kafka 29092/29093 and SASL 29094, Redis 26379,
# simulator 28080; a development stack on the default ports is untouched;
# each can be moved with <VAR>_TEST, e.g. TOLLGATE_REDIS_PORT_TEST=36379, and
# the build directory with TOLLGATE_TEST_BUILD, so two checkouts can test at
# once),
# runs pytest on tests/integration, tests/sim and tests/faults (or only on
# TOLLGATE_TEST_PATHS: pytest paths or node ids relative to the repository,
# separated by spaces), and stops the stack on exit whatever happens. Exits
# with pytest's status.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BUILD=${TOLLGATE_TEST_BUILD:-$REPO/build-test}
STACK=$REPO/deploy/local/stack.sh

export TOLLGATE_BUILD_DIR=$BUILD
export TOLLGATE_STATE_DIR=${TOLLGATE_STATE_DIR_TEST:-$REPO/.local/test}
export TOLLGATE_KAFKA_PORT=${TOLLGATE_KAFKA_PORT_TEST:-29092}
export TOLLGATE_KAFKA_CONTROLLER_PORT=${TOLLGATE_KAFKA_CONTROLLER_PORT_TEST:-29093}
export TOLLGATE_KAFKA_SASL_PORT=${TOLLGATE_KAFKA_SASL_PORT_TEST:-29094}
export TOLLGATE_REDIS_PORT=${TOLLGATE_REDIS_PORT_TEST:-26379}
export TOLLGATE_SIM_PORT=${TOLLGATE_SIM_PORT_TEST:-28080}
export TOLLGATE_KAFKA_SASL_BROKERS=127.0.0.1:$TOLLGATE_KAFKA_SASL_PORT
# Report a sanitizer finding and fail the process, without a core dump.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export PYTHONDONTWRITEBYTECODE=1

step() {
	printf '\n=== %s\n' "$*" >&2
}

dirs=()
if [[ -n ${TOLLGATE_TEST_PATHS:-} ]]; then
	# Only these (tests/debian13.sh passes its list): every one must exist,
	# and collecting nothing from them is a failure, not a pass.
	read -r -a dirs <<<"$TOLLGATE_TEST_PATHS"
	for d in "${dirs[@]}"; do
		[[ -e ${d%%::*} ]] || { echo "TOLLGATE_TEST_PATHS: no ${d%%::*}" >&2; exit 2; }
	done
else
	for d in tests/integration tests/sim tests/faults; do
		[[ -d $d ]] && dirs+=("$d")
	done
fi

step "build ($BUILD)"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DTOLLGATE_SANITIZE=ON \
	-DTOLLGATE_WERROR=ON
cmake --build "$BUILD"

step "unit tests (ctest)"
(cd "$BUILD" && ctest --output-on-failure --timeout 600)

step "local stack (state in $TOLLGATE_STATE_DIR)"
# shellcheck disable=SC2317 # called by the trap
stop_stack() {
	step "stopping the stack"
	"$STACK" down || true
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$STACK" down >/dev/null 2>&1 || true # leftovers of an interrupted run
rm -rf "$TOLLGATE_STATE_DIR"
"$STACK" up
eval "$("$STACK" env)"
export TOLLGATE_BROKERS TOLLGATE_REDIS TOLLGATE_BEDROCK_ENDPOINT

step "pytest ${dirs[*]} $*"
status=0
python3 -m pytest -q -o cache_dir="$BUILD/.pytest_cache" "${dirs[@]}" "$@" ||
	status=$?
if ((status == 5)) && [[ -z ${TOLLGATE_TEST_PATHS:-} ]]; then
	echo "pytest collected no tests" >&2
	status=0
fi
exit "$status"
