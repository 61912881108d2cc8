#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGET is request, catalog, sigv4 or
# converse (default all four, one after the other). The build lives in
# build-fuzz/ (its own dir: the whole build is clang there). Each target
# starts from a copy of tests/fuzz/corpus/<target>/ plus the reproducers in
# tests/fuzz/regressions/<target>/, in build-fuzz/corpus-run/<target>/, so
# the corpus in the repo only changes when someone copies an input back.
#
# Exits non-zero when any target crashed, leaked, timed out (-timeout=5) or
# ran out of memory, naming the input libFuzzer saved. Replay one with
#   build-fuzz/tests/fuzz/fuzz_<target> <file>
# and, once the bug is fixed, move it into tests/fuzz/regressions/<target>/
# where test_regressions (ctest) replays it in every build.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ=$REPO/tests/fuzz
BUILD=${TOLLGATE_FUZZ_BUILD:-$REPO/build-fuzz}
SECS=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
	TARGETS=(request catalog sigv4 converse)
fi

case $SECS in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS] [request|catalog|sigv4|converse...]" >&2
	exit 2
	;;
esac

# Longest input per target: enough for every seed and for the limits each
# parser enforces to be reachable (33 levels of nesting, 33 tags, a header
# over its cap), short enough to keep thousands of runs a second.
max_len() {
	case $1 in
	request) echo 16384 ;;
	catalog) echo 16384 ;;
	sigv4) echo 8192 ;;
	converse) echo 8192 ;;
	*)
		echo "unknown target $1" >&2
		exit 2
		;;
	esac
}

for t in "${TARGETS[@]}"; do
	max_len "$t" >/dev/null
done

gen=()
if [ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null; then
	gen=(-G Ninja)
fi
echo "=== build ($BUILD)" >&2
cmake -S "$REPO" -B "$BUILD" "${gen[@]}" -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target "${TARGETS[@]/#/fuzz_}"

# A finding must stop the target with a report, not be recovered from.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}

RUN=$BUILD/corpus-run
failed=0
summary=()
for t in "${TARGETS[@]}"; do
	corpus=$RUN/$t
	artifacts=$BUILD/artifacts/$t
	log=$BUILD/fuzz-$t.log
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp -R "$FUZZ/corpus/$t/." "$corpus/"
	if [ -d "$FUZZ/regressions/$t" ]; then
		cp -R "$FUZZ/regressions/$t/." "$corpus/"
	fi
	dict=()
	if [ -f "$FUZZ/dict/$t.dict" ]; then
		dict=(-dict="$FUZZ/dict/$t.dict")
	fi
	echo "=== fuzz_$t for ${SECS}s (log $log)" >&2
	rc=0
	"$BUILD/tests/fuzz/fuzz_$t" "$corpus" "${dict[@]}" \
		-max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=5 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
	if [ "$rc" -ne 0 ]; then
		failed=1
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
			tail -1)
		grep -E 'ERROR: |invariant broken|SUMMARY: ' "$log" | head -5 >&2 || true
		summary+=("fuzz_$t: FAILED (exit $rc) after ${execs:-?} execs;" \
			"input ${crash:-not saved, see $log}")
	else
		summary+=("fuzz_$t: ok, ${execs:-?} execs (${rate:-?}/s), ${cov:-cov ?}")
	fi
done

echo >&2
for line in "${summary[@]}"; do
	echo "$line"
done
exit "$failed"
