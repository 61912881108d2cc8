#!/usr/bin/env bash
# Runs integration tests with every worker under valgrind (memcheck, full
# leak check) on a plain build, against the same isolated stack as
# tests/run.sh. A leak, an invalid access or an uninitialised read fails
# the test that started the worker (tests/integration/tgstack.py).
#
#   tests/valgrind.sh [PYTEST ARGS...]   default: the bad-input e2e test
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BUILD=$REPO/build-valgrind
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	-DTOLLGATE_WERROR=ON >/dev/null
cmake --build "$BUILD"

export TOLLGATE_BUILD_DIR=$BUILD
export TOLLGATE_STATE_DIR=$REPO/.local/valgrind
export TOLLGATE_KAFKA_PORT=29192 TOLLGATE_KAFKA_CONTROLLER_PORT=29193
export TOLLGATE_REDIS_PORT=26479 TOLLGATE_SIM_PORT=28180
export TOLLGATE_WORKER_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --show-leak-kinds=definite"
STACK=$REPO/deploy/local/stack.sh
trap '"$STACK" down >/dev/null 2>&1 || true' EXIT
"$STACK" down >/dev/null 2>&1 || true
rm -rf "$TOLLGATE_STATE_DIR"
"$STACK" up
eval "$("$STACK" env)"
export TOLLGATE_BROKERS TOLLGATE_REDIS TOLLGATE_BEDROCK_ENDPOINT
args=("$@")
((${#args[@]})) || args=(tests/integration/test_e2e.py -k bad_input)
python3 -m pytest -q -p no:cacheprovider "${args[@]}"
