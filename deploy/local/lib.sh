# shellcheck shell=bash disable=SC2034
# Helpers shared by deploy/local/{kafka,redis,stack}.sh; source, don't run.
# Sets TG_LOCAL_DIR (this folder), TG_REPO (the repository) and
# TG_STATE_ROOT (${TOLLGATE_STATE_DIR:-$TG_REPO/.local}, made absolute).

TG_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TG_REPO=$(cd "$TG_LOCAL_DIR/../.." && pwd)
mkdir -p "${TOLLGATE_STATE_DIR:-$TG_REPO/.local}"
TG_STATE_ROOT=$(cd "${TOLLGATE_STATE_DIR:-$TG_REPO/.local}" && pwd)

tg_log() {
	printf '[%s] %s\n' "${TG_NAME:-local}" "$*" >&2
}

tg_die() {
	tg_log "error: $*"
	exit 1
}

# Seconds since the epoch, with milliseconds.
tg_now() {
	date +%s.%3N
}

# Seconds elapsed since a tg_now value, one decimal.
tg_since() {
	awk -v a="$1" -v b="$(tg_now)" 'BEGIN { printf "%.1f", b - a }'
}

# Prints the pid from PIDFILE and succeeds when that process is alive and
# its command line contains PATTERN (guards against a recycled pid).
tg_pid_alive() {
	local pidfile=$1 pattern=$2 pid
	[[ -s $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" ||
		return 1
	echo "$pid"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:PORT.
tg_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to SECONDS for PID to exit; fails if it is still there.
tg_wait_exit() {
	local pid=$1 seconds=$2 i
	for ((i = 0; i < seconds * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null
}

# Stops PID: SIGTERM, up to SECONDS to exit, then SIGKILL.
tg_stop_pid() {
	local pid=$1 seconds=$2
	kill -TERM "$pid" 2>/dev/null || return 0
	tg_wait_exit "$pid" "$seconds" && return 0
	tg_log "pid $pid still running after ${seconds}s, sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	tg_wait_exit "$pid" 10
}

# Prints the last lines of a log file to stderr, if it exists.
tg_tail_log() {
	[[ -f $1 ]] || return 0
	tg_log "last lines of $1:"
	tail -n "${2:-30}" "$1" >&2
}
