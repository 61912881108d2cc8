#!/usr/bin/env bash
# The container image, built and run for real: builds deploy/docker/Dockerfile
# (Debian 13) with podman from a local base, prints its size, and runs
# tests/image/ against it: the image's worker, as its non-root user, with
# --network host, processes a batch from a local broker, Redis and the
# simulator; compose.yaml's services are checked against the same image.
#
#   tests/image.sh [PYTEST ARGS...]
#
# There is no image registry here: the base debian:13 is the pristine
# debootstrap root of deploy/local/debian13.sh (a clean minbase, not the
# build root with its compilers), imported with `podman import`;
# debian:13-slim is the same root without documentation, man pages and
# locales (as Debian's own slim images are made). Podman is given
# deploy/docker/containers.conf (through CONTAINERS_CONF): no default
# ulimits, cgroupfs, runc.
#
# The stack runs on the host from the host build (TOLLGATE_TEST_BUILD,
# default build-test/, built if needed), state in .local/image, on ports
# below the ephemeral range, each movable: TOLLGATE_KAFKA_PORT_IMAGE 24092,
# TOLLGATE_KAFKA_CONTROLLER_PORT_IMAGE 24093, TOLLGATE_REDIS_PORT_IMAGE
# 24379, TOLLGATE_SIM_PORT_IMAGE 24080. TOLLGATE_IMAGE names the image
# (default tollgate:dev). Runs as root (podman, debootstrap).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# shellcheck disable=SC2034 # TG_NAME is read by lib.sh
TG_NAME=image
# shellcheck source=../deploy/local/lib.sh
source "$REPO/deploy/local/lib.sh"

IMAGE=${TOLLGATE_IMAGE:-tollgate:dev}
BUILD=${TOLLGATE_TEST_BUILD:-$REPO/build-test}
STACK=$REPO/deploy/local/stack.sh
export CONTAINERS_CONF=$REPO/deploy/docker/containers.conf
export TOLLGATE_IMAGE=$IMAGE
export TOLLGATE_BUILD_DIR=$BUILD
export TOLLGATE_STATE_DIR=$REPO/.local/image
export TOLLGATE_KAFKA_PORT=${TOLLGATE_KAFKA_PORT_IMAGE:-24092}
export TOLLGATE_KAFKA_CONTROLLER_PORT=${TOLLGATE_KAFKA_CONTROLLER_PORT_IMAGE:-24093}
export TOLLGATE_REDIS_PORT=${TOLLGATE_REDIS_PORT_IMAGE:-24379}
export TOLLGATE_SIM_PORT=${TOLLGATE_SIM_PORT_IMAGE:-24080}
unset TOLLGATE_KAFKA_SASL_PORT
export PYTHONDONTWRITEBYTECODE=1

step() {
	printf '\n=== %s\n' "$*" >&2
}

((EUID == 0)) || tg_die "run as root (podman builds and runs the image as root)"
missing=()
for tool in podman:podman buildah:buildah runc:runc; do
	command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
	step "installing ${missing[*]}"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2
fi

step "base images debian:13 and debian:13-slim"
t0=$(tg_now)
base=$("$REPO/deploy/local/debian13.sh" base)
# Imported again only when the pristine root changed: the same base image
# keeps podman's layer cache valid, so an unchanged tree builds in seconds.
key="$base@$(stat -c %Y "$base/var/lib/dpkg/status")"
# base_key IMAGE: the root an imported base was made from, if any.
base_key() {
	podman image inspect --format '{{index .Labels "org.tollgate.base"}}' "$1" 2>/dev/null || true
}
if [[ $(base_key docker.io/library/debian:13) != "$key" ]]; then
	tar -C "$base" -c . |
		podman import -q --change "LABEL org.tollgate.base=$key" - docker.io/library/debian:13 >/dev/null
fi
if [[ $(base_key docker.io/library/debian:13-slim) != "$key" ]]; then
	# Slim: Debian's slim images drop documentation, man pages and locales
	# and keep dpkg from installing them again; the same filter here.
	slim_cfg=$(mktemp -d)
	mkdir -p "$slim_cfg/etc/dpkg/dpkg.cfg.d"
	cat >"$slim_cfg/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
	tar -c --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
		--exclude='./usr/share/locale/*' --exclude='./usr/share/lintian/*' \
		--exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' \
		-C "$base" . -C "$slim_cfg" ./etc/dpkg/dpkg.cfg.d/slim |
		podman import -q --change "LABEL org.tollgate.base=$key" - \
			docker.io/library/debian:13-slim >/dev/null
	rm -rf "$slim_cfg"
fi
tg_log "base images from $base ready in $(tg_since "$t0")s"

step "podman build $IMAGE"
t0=$(tg_now)
# --format docker keeps HEALTHCHECK (OCI image configs have no such field).
podman build --network host --pull=never --format docker \
	--ignorefile deploy/docker/Dockerfile.dockerignore \
	-f deploy/docker/Dockerfile -t "$IMAGE" .
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
tg_log "built $IMAGE in $(tg_since "$t0")s; image size $size bytes ($((size / 1000000)) MB)"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
	grep -E '^(localhost/tollgate|docker.io/library/debian):' >&2 || true

step "host build $BUILD (the stack and the test tools)"
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
	cmake -S "$REPO" -B "$BUILD" -G Ninja -DTOLLGATE_SANITIZE=ON -DTOLLGATE_WERROR=ON
fi
cmake --build "$BUILD" --target tollgate-topics tollgate-bedrock-sim tollgate-ledger

step "local stack (state in $TOLLGATE_STATE_DIR)"
# shellcheck disable=SC2317 # called by the trap
stop_stack() {
	step "stopping the stack"
	"$STACK" down || true
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$STACK" down >/dev/null 2>&1 || true
rm -rf "$TOLLGATE_STATE_DIR"
"$STACK" up
eval "$("$STACK" env)"
export TOLLGATE_BROKERS TOLLGATE_REDIS TOLLGATE_BEDROCK_ENDPOINT

step "pytest tests/image $*"
python3 -m pytest -q -p no:cacheprovider tests/image "$@"
