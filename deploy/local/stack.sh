#!/usr/bin/env bash
# The whole local stack: Redis, a single-node Kafka with tollgate's topics,
# and the Bedrock simulator.
#
#   deploy/local/stack.sh up|down|status|env
#   eval "$(deploy/local/stack.sh env)"   # TOLLGATE_BROKERS, _REDIS, ...
#
# Environment (besides those of kafka.sh and redis.sh):
#   TOLLGATE_BUILD_DIR  where tollgate-topics and tollgate-bedrock-sim are
#                       built, default $REPO/build
#   TOLLGATE_SIM_PORT   simulator port on 127.0.0.1, default 18080
#   TOLLGATE_SIM_ARGS   extra arguments for tollgate-bedrock-sim
#   TOLLGATE_NO_SIM=1   do not start the simulator
#   TOLLGATE_TOPIC_PARTITIONS  partitions of the created topics, default 4
set -euo pipefail
# shellcheck disable=SC2034 # TG_NAME is read by lib.sh
TG_NAME=stack
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_PORT=${TOLLGATE_KAFKA_PORT:-19092}
REDIS_PORT=${TOLLGATE_REDIS_PORT:-16379}
SIM_PORT=${TOLLGATE_SIM_PORT:-18080}
BUILD=${TOLLGATE_BUILD_DIR:-$TG_REPO/build}
[[ $BUILD == /* ]] || BUILD=$TG_REPO/$BUILD
SIM_DIR=$TG_STATE_ROOT/sim
SIM_PID=$SIM_DIR/sim.pid
SIM_LOG=$SIM_DIR/sim.log
SIM_TIMEOUT=30

# The build puts binaries in per-folder subdirectories; find one by name.
find_bin() {
	local name=$1 found
	[[ -x $BUILD/$name ]] && { echo "$BUILD/$name"; return 0; }
	found=$(find "$BUILD" -maxdepth 3 -type f -name "$name" -perm -u+x \
		2>/dev/null | head -n 1)
	[[ -n $found ]] && echo "$found"
}

create_topics() {
	local bin i
	bin=$(find_bin tollgate-topics) ||
		tg_die "tollgate-topics not found under $BUILD; build first (cmake --build $BUILD)"
	for i in 1 2 3; do
		"$bin" --brokers "127.0.0.1:$KAFKA_PORT" \
			--partitions "${TOLLGATE_TOPIC_PARTITIONS:-4}" >&2 && return 0
		tg_log "creating topics failed (try $i of 3)"
		sleep 2
	done
	tg_die "could not create the topics"
}

sim_healthy() {
	curl -fs --max-time 2 "http://127.0.0.1:$SIM_PORT/healthz" >/dev/null
}

sim_start() {
	local pid t0 i bin
	t0=$(tg_now)
	if pid=$(tg_pid_alive "$SIM_PID" tollgate-bedrock-sim); then
		tg_log "simulator already running (pid $pid)"
	else
		bin=$(find_bin tollgate-bedrock-sim) ||
			tg_die "the Bedrock simulator tollgate-bedrock-sim is not built under $BUILD (build it, or set TOLLGATE_NO_SIM=1 to skip it)"
		! tg_port_open "$SIM_PORT" ||
			tg_die "port $SIM_PORT is already in use by another process"
		mkdir -p "$SIM_DIR"
		# shellcheck disable=SC2086 # TOLLGATE_SIM_ARGS is split on purpose
		"$bin" --port "$SIM_PORT" ${TOLLGATE_SIM_ARGS:-} \
			</dev/null >>"$SIM_LOG" 2>&1 &
		pid=$!
		echo "$pid" >"$SIM_PID"
		tg_log "simulator started pid $pid (log $SIM_LOG)"
	fi
	for ((i = 0; i < SIM_TIMEOUT * 10; i++)); do
		if sim_healthy; then
			tg_log "simulator ready on 127.0.0.1:$SIM_PORT after $(tg_since "$t0")s"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null ||
			{ tg_tail_log "$SIM_LOG"; tg_die "simulator exited during startup"; }
		sleep 0.1
	done
	tg_tail_log "$SIM_LOG"
	tg_die "simulator not healthy on 127.0.0.1:$SIM_PORT after ${SIM_TIMEOUT}s"
}

sim_stop() {
	local pid
	if ! pid=$(tg_pid_alive "$SIM_PID" tollgate-bedrock-sim); then
		rm -f "$SIM_PID"
		return 0
	fi
	tg_log "stopping simulator pid $pid"
	tg_stop_pid "$pid" 10 || tg_die "simulator pid $pid did not exit"
	rm -f "$SIM_PID"
}

sim_status() {
	local pid
	if pid=$(tg_pid_alive "$SIM_PID" tollgate-bedrock-sim); then
		echo "sim: running (pid $pid) on 127.0.0.1:$SIM_PORT"
		return 0
	fi
	echo "sim: stopped"
	return 3
}

up() {
	local t0
	t0=$(tg_now)
	"$TG_LOCAL_DIR/redis.sh" start
	"$TG_LOCAL_DIR/kafka.sh" start
	create_topics
	if [[ ${TOLLGATE_NO_SIM:-0} == 1 ]]; then
		tg_log "TOLLGATE_NO_SIM=1: not starting the Bedrock simulator"
	else
		sim_start
	fi
	tg_log "up after $(tg_since "$t0")s; eval \"\$($0 env)\" to use it"
}

down() {
	sim_stop
	"$TG_LOCAL_DIR/kafka.sh" stop
	"$TG_LOCAL_DIR/redis.sh" stop
}

status() {
	local rc=0
	"$TG_LOCAL_DIR/redis.sh" status || rc=3
	"$TG_LOCAL_DIR/kafka.sh" status || rc=3
	if [[ ${TOLLGATE_NO_SIM:-0} != 1 ]]; then
		sim_status || rc=3
	fi
	return $rc
}

env_lines() {
	echo "export TOLLGATE_BROKERS=127.0.0.1:$KAFKA_PORT"
	echo "export TOLLGATE_REDIS=redis://127.0.0.1:$REDIS_PORT"
	echo "export TOLLGATE_BEDROCK_ENDPOINT=http://127.0.0.1:$SIM_PORT"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
env) env_lines ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
