#!/usr/bin/env bash
# The benchmarks: one command builds a Release tree, starts an isolated
# stack, runs the benchmarks and prints their figures beside the ceilings
# measured in the same run, then stops the stack whatever happens.
#
#   tests/bench/run.sh [throughput|inflight|overhead|quota|all ...] [-- ARGS]
#
#   throughput  latency 0, 100,000 requests pre-loaded, one worker; req/s
#               and CPU s per 1,000 requests beside librdkafka's
#               consume+produce rate, a kcat pipe and redis-benchmark of
#               the worker's own EVALSHA calls
#   inflight    latency 1,000 ms; sustained req/s, peak in flight, peak RSS
#   overhead    500 req/s held for 20 s; p50/p99 of the time outside Bedrock
#   quota       simulator quota 200 req/s, 4 workers; rate and throttles
#
# Arguments after -- go to every selected benchmark script (e.g. -- --runs 1).
# Environment:
#   BENCH_RUNS=N          runs per benchmark (default 3; figures are medians)
#   BENCH_WAIT_QUIET=S    before each run wait up to S seconds for other work
#                         on the machine to stop (default 0: warn and go on)
#   BENCH_KEEP_STACK=1    leave the stack running at the end
#   BENCH_BASELINE=REV    A/B: also build git revision REV (Release, into
#                         build-bench/baseline) and run each benchmark
#                         BENCH_RUNS times on each side, alternately, one
#                         run at a time, on the same stack; then print
#                         medians and ratios (tests/bench/ab.py)
#
# Build: build-bench/ (cmake -DCMAKE_BUILD_TYPE=Release), plus
# tests/bench/kafka_ceiling.c into build-bench/bench/. Stack: state in
# .local/bench (wiped first), Kafka 59092/59093, Redis 56379; simulators
# are started by each benchmark on free ports with the knobs it needs.
# Results: printed, and as JSON in build-bench/bench-out/results/.
# Record them in tests/bench/RESULTS.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

benches=()
extra=()
while (($#)); do
	case $1 in
	throughput | inflight | overhead | quota) benches+=("$1") ;;
	all) benches+=(throughput inflight overhead quota) ;;
	--)
		shift
		extra=("$@")
		break
		;;
	-h | --help)
		sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "unknown benchmark '$1' (throughput|inflight|overhead|quota|all)" >&2
		exit 2
		;;
	esac
	shift
done
((${#benches[@]})) || benches=(throughput inflight overhead quota)

BUILD=$REPO/build-bench
STACK=$REPO/deploy/local/stack.sh
export TOLLGATE_BUILD_DIR=$BUILD
export TOLLGATE_STATE_DIR=$REPO/.local/bench
export TOLLGATE_KAFKA_PORT=59092
export TOLLGATE_KAFKA_CONTROLLER_PORT=59093
export TOLLGATE_REDIS_PORT=56379
export TOLLGATE_SIM_PORT=58080
export TOLLGATE_NO_SIM=1
export PYTHONDONTWRITEBYTECODE=1
unset TOLLGATE_KAFKA_SASL_PORT

step() {
	printf '\n=== %s\n' "$*" >&2
}

for tool in kcat redis-benchmark redis-cli cc pkg-config python3; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: $tool is missing (deploy/local/install-deps.sh)" >&2; exit 1; }
done

step "release build ($BUILD)"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD"
if [[ -n ${BENCH_BASELINE:-} ]]; then
	rev=$(git -C "$REPO" rev-parse --verify "$BENCH_BASELINE^{commit}")
	BASE_SRC=$BUILD/baseline-src
	BASE_BUILD=$BUILD/baseline
	step "baseline $rev ($BASE_BUILD)"
	if [[ $(cat "$BASE_SRC/.rev" 2>/dev/null) != "$rev" ]]; then
		rm -rf "$BASE_SRC" "$BASE_BUILD"
		mkdir -p "$BASE_SRC"
		git -C "$REPO" archive "$rev" | tar -x -C "$BASE_SRC"
		echo "$rev" >"$BASE_SRC/.rev"
	fi
	cmake -S "$BASE_SRC" -B "$BASE_BUILD" -G Ninja \
		-DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BASE_BUILD"
	AB=$BUILD/bench-out/results/ab
	rm -rf "$AB"
	mkdir -p "$AB"
fi
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -O2 -Wall -o "$BUILD/bench/kafka_ceiling" "$REPO/tests/bench/kafka_ceiling.c" \
	$(pkg-config --cflags --libs rdkafka)

step "bench stack (state in $TOLLGATE_STATE_DIR)"
# shellcheck disable=SC2317 # called by the trap
stop_stack() {
	if [[ ${BENCH_KEEP_STACK:-0} == 1 ]]; then
		step "leaving the stack up (BENCH_KEEP_STACK=1): $STACK down to stop it"
		return
	fi
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
export TOLLGATE_BROKERS TOLLGATE_REDIS

step "machine"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "commit: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- common worker ledger || echo ' (+ uncommitted changes in common/worker/ledger)')"
echo "nproc: $(nproc); cpu: $(lscpu | sed -n 's/^Model name: *//p'); RAM: $(free -g | awk '/^Mem:/ {print $2}') GiB"

status=0
if [[ -z ${BENCH_BASELINE:-} ]]; then
	for b in "${benches[@]}"; do
		step "benchmark: $b"
		python3 "$REPO/tests/bench/bench_$b.py" --runs "${BENCH_RUNS:-3}" \
			"${extra[@]}" || status=$?
	done
	exit "$status"
fi

# A/B: one run at a time, alternately, so both sides share the machine's
# moods; the ceilings need the kafka_ceiling binary in each build dir.
mkdir -p "$BASE_BUILD/bench"
cp "$BUILD/bench/kafka_ceiling" "$BASE_BUILD/bench/"
for b in "${benches[@]}"; do
	for ((i = 1; i <= ${BENCH_RUNS:-3}; i++)); do
		for side in baseline current; do
			dir=$BUILD
			[[ $side == baseline ]] && dir=$BASE_BUILD
			step "benchmark: $b, $side, run $i"
			TOLLGATE_BUILD_DIR=$dir python3 "$REPO/tests/bench/bench_$b.py" \
				--runs 1 "${extra[@]}" || status=$?
			cp "$dir/bench-out/results/$b.json" "$AB/$b.$side.$i.json" ||
				status=1
		done
	done
done
step "baseline $rev against the current tree"
python3 "$REPO/tests/bench/ab.py" "$AB" || status=$?
exit "$status"
