#!/usr/bin/env bash
# A Debian 13 (trixie) root on this Debian 12 machine, to build and test
# tollgate against trixie's libraries (librdkafka 2.8, hiredis 1.2 with
# hiredis_ssl, curl 8.14, gcc 14, Redis 8) without a second machine.
#
#   deploy/local/debian13.sh prepare            make or update the root only
#   deploy/local/debian13.sh run CMD [ARG...]   run CMD inside it, from the
#                                               repository (same path inside)
#   deploy/local/debian13.sh shell              an interactive shell inside
#   deploy/local/debian13.sh base               prints the pristine root
#
# Two roots are made once and kept (a cache): ROOT-base, a pristine
# `debootstrap --variant=minbase trixie` from the Debian mirror of this
# machine's apt sources (the container image's base too), and ROOT, a copy
# of it with the packages of packages/debian13.list and the Python packages
# of tests/requirements.txt, installed by install-deps.sh run inside. Each
# is only renamed into place when complete (an interrupted run leaves a
# .new tree, redone next time); ROOT/.tollgate/deps holds a hash of the
# package lists, so a changed list installs again.
#
# Mounts (proc, sys, dev, dev/pts, a fresh dev/shm and tmp, the repository)
# live in a private mount namespace (unshare -m): they vanish when the
# command ends, whatever happens, and the host's mount table never sees
# them. Loopback is shared with the host: servers started inside listen on
# the host's 127.0.0.1, so pick ports nothing else uses.
#
# Environment:
#   TOLLGATE_DEBIAN13_ROOT  the root, default /var/cache/tollgate/debian13
#   TOLLGATE_DEBIAN13_BASE  an existing pristine trixie minbase root to use
#                           instead of debootstrapping ROOT-base (read only)
#   TOLLGATE_DEBIAN_MIRROR  default: the Debian mirror of the apt sources,
#                           else http://deb.debian.org/debian
#   TOLLGATE_DEBIAN13_ENV   more variable names to pass inside (TOLLGATE_*,
#                           CI, ASAN_/UBSAN_/LSAN_OPTIONS always pass)
# Runs as root (debootstrap, chroot and mount need it).
set -euo pipefail
# shellcheck disable=SC2034 # TG_NAME is read by lib.sh
TG_NAME=debian13
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=${TOLLGATE_DEBIAN13_ROOT:-/var/cache/tollgate/debian13}
ROOT=${ROOT%/}
PRISTINE=${TOLLGATE_DEBIAN13_BASE:-$ROOT-base}
PRISTINE=${PRISTINE%/}
SUITE=trixie
# Bump to rebuild every cached root after a change to how roots are made.
ROOT_FORMAT=2
HOST_CA_DIR=/usr/local/share/ca-certificates

# The Debian archive (not -security) named in this machine's apt sources.
detect_mirror() {
	local url
	url=$(grep -rhoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		awk '{print $NF}' | grep -E '/debian/?$' | head -n 1) || true
	echo "${url:-http://deb.debian.org/debian}"
}

check_root_path() {
	((EUID == 0)) || tg_die "run as root (debootstrap, chroot and mount need it)"
	[[ $ROOT == /*/* && $ROOT != *..* ]] ||
		tg_die "TOLLGATE_DEBIAN13_ROOT must be an absolute path below / (got '$ROOT')"
}

# Fails when anything is mounted at or below DIR (a leftover of some other
# tool): deleting such a tree would reach into the mounted file systems.
check_no_mounts() {
	local dir=$1
	if findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | grep -q .; then
		tg_die "something is mounted below $dir; unmount it first"
	fi
}

remove_tree() {
	[[ -e $1 ]] || return 0
	check_no_mounts "$1"
	rm -rf --one-file-system "$1"
}

need_tool() {
	command -v "$1" >/dev/null && return 0
	tg_log "installing $2 on the host"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2 ||
		{ apt-get update -q >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2; }
}

# The pristine minbase root (also the base of the container image,
# tests/image.sh): debootstrapped into PRISTINE.new and renamed when
# complete, so an existing PRISTINE is whole; never changed afterwards.
ensure_pristine() {
	local new=$PRISTINE.new t0 mirror
	if [[ -n ${TOLLGATE_DEBIAN13_BASE:-} ]]; then
		[[ -f $PRISTINE/etc/os-release ]] &&
			grep -q "VERSION_CODENAME=$SUITE" "$PRISTINE/etc/os-release" ||
			tg_die "TOLLGATE_DEBIAN13_BASE=$PRISTINE is not a $SUITE root"
		return 0
	fi
	[[ -d $PRISTINE && $(cat "$PRISTINE.format" 2>/dev/null) == "$ROOT_FORMAT" ]] &&
		return 0
	remove_tree "$PRISTINE"
	remove_tree "$new" # half-made by an interrupted run
	need_tool debootstrap debootstrap
	mirror=${TOLLGATE_DEBIAN_MIRROR:-$(detect_mirror)}
	t0=$(tg_now)
	tg_log "debootstrap --variant=minbase $SUITE $new $mirror (a minute or two)"
	# In a mount namespace of its own: an interrupted debootstrap leaves
	# no proc or sys mounted below $new.
	unshare -m --propagation private \
		debootstrap --variant=minbase "$SUITE" "$new" "$mirror" \
		>"$new.log" 2>&1 ||
		{ tail -n 30 "$new.log" >&2; tg_die "debootstrap failed (log $new.log)"; }
	rm -f "$new.log"
	mv "$new" "$PRISTINE"
	echo "$ROOT_FORMAT" >"$PRISTINE.format"
	tg_log "pristine root $PRISTINE after $(tg_since "$t0")s"
}

# The build root: a copy of the pristine one, renamed into place when
# complete; a ROOT without our stamp directory is not ours to delete.
ensure_base() {
	local new=$ROOT.new t0
	if [[ -f $ROOT/.tollgate/base && $(<"$ROOT/.tollgate/base") == "$ROOT_FORMAT" ]]; then
		return 0
	fi
	if [[ -e $ROOT ]]; then
		[[ -d $ROOT/.tollgate ]] ||
			tg_die "$ROOT exists but was not made by $0; remove it or set TOLLGATE_DEBIAN13_ROOT"
		tg_log "$ROOT is of an older format: making it again"
		remove_tree "$ROOT"
	fi
	remove_tree "$new" # half-made by an interrupted run
	t0=$(tg_now)
	cp -a "$PRISTINE" "$new"
	mkdir -p "$new/.tollgate"
	echo "$ROOT_FORMAT" >"$new/.tollgate/base"
	mv "$new" "$ROOT"
	tg_log "build root $ROOT copied from $PRISTINE in $(tg_since "$t0")s"
}

# Files the root needs from the host on every run.
host_files() {
	# resolv.conf: a copy (the host's may be a symlink into /run).
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
	# The root trusts the certificate authorities the host's administrator
	# added (a TLS-inspecting egress proxy's, say), so pip and Maven reach
	# their registries from inside as they do outside; usually none.
	mkdir -p "$ROOT/usr/local/share/ca-certificates"
	if compgen -G "$HOST_CA_DIR/*.crt" >/dev/null; then
		cp "$HOST_CA_DIR"/*.crt "$ROOT/usr/local/share/ca-certificates/"
	fi
	# No service starts from a package's postinst inside the root.
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
}

# What the dependency stage installed from: the package lists, the host's
# added CAs, and the format of the root.
deps_hash() {
	{
		cat "$TG_LOCAL_DIR/packages/debian13.list" "$TG_REPO/tests/requirements.txt"
		cat "$HOST_CA_DIR"/*.crt 2>/dev/null || true
		echo "$ROOT_FORMAT"
	} | sha256sum | cut -d' ' -f1
}

ensure_deps() {
	local hash t0
	hash=$(deps_hash)
	if [[ -f $ROOT/.tollgate/deps && $(<"$ROOT/.tollgate/deps") == "$hash" ]]; then
		tg_log "root $ROOT is up to date"
		return 0
	fi
	t0=$(tg_now)
	tg_log "installing the build and test dependencies in $ROOT"
	rm -f "$ROOT/.tollgate/deps"
	# apt-get update first: install-deps.sh only updates when a package
	# is missing, and a root's lists age. dpkg --configure -a finishes what
	# an interrupted run left half-installed.
	in_root bash -c 'set -e
		export DEBIAN_FRONTEND=noninteractive
		dpkg --configure -a
		apt-get update -q
		apt-get install -y -q --no-install-recommends ca-certificates
		update-ca-certificates
		deploy/local/install-deps.sh' >"$ROOT.deps.log" 2>&1 ||
		{ tail -n 40 "$ROOT.deps.log" >&2; tg_die "installing the dependencies failed (log $ROOT.deps.log)"; }
	grep '^\[install-deps\]' "$ROOT.deps.log" >&2 || true
	echo "$hash" >"$ROOT/.tollgate/deps"
	tg_log "dependencies installed after $(tg_since "$t0")s"
}

# NAME=VALUE words for the variables passed into the root.
pass_env() {
	local name
	for name in $(compgen -e); do
		case $name in
		TOLLGATE_* | CI | ASAN_OPTIONS | UBSAN_OPTIONS | LSAN_OPTIONS | TERM)
			printf '%s=%s\0' "$name" "${!name}"
			;;
		esac
	done
	for name in ${TOLLGATE_DEBIAN13_ENV:-}; do
		[[ -v $name ]] && printf '%s=%s\0' "$name" "${!name}"
	done
	return 0
}

# Runs "$@" in the root, in the repository, with a clean environment.
in_root() {
	local envs=()
	mapfile -d '' -t envs < <(pass_env)
	host_files
	unshare -m --propagation private bash -c '
		set -e
		root=$1 repo=$2; shift 2
		mount -t proc proc "$root/proc"
		mount -t sysfs -o ro sysfs "$root/sys"
		mount --bind /dev "$root/dev"
		mount --bind /dev/pts "$root/dev/pts"
		mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
		mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$root/tmp"
		mkdir -p "$root$repo"
		mount --bind "$repo" "$root$repo"
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			TG_IN_ROOT_REPO="$repo" "$@"
	' in-root "$ROOT" "$TG_REPO" "${envs[@]}" \
		bash -c 'cd "$TG_IN_ROOT_REPO" && unset TG_IN_ROOT_REPO && exec "$@"' \
		in-root "$@"
}

prepare() {
	check_root_path
	mkdir -p "$(dirname "$ROOT")"
	# One preparer at a time. The lock is let go before the command runs:
	# servers it starts in the background must not inherit it.
	exec 9>"$ROOT.lock"
	flock -x 9
	ensure_pristine
	ensure_base
	ensure_deps
	exec 9>&-
}

case ${1:-} in
prepare)
	prepare
	;;
base)
	# Prints the pristine root's path (the container image's base); makes
	# only that one.
	check_root_path
	mkdir -p "$(dirname "$ROOT")"
	exec 9>"$ROOT.lock"
	flock -x 9
	ensure_pristine
	echo "$PRISTINE"
	;;
run)
	shift
	(($# > 0)) || tg_die "usage: $0 run CMD [ARG...]"
	prepare
	in_root "$@"
	;;
shell)
	prepare
	in_root bash -i
	;;
*)
	echo "usage: $0 prepare | run CMD [ARG...] | shell" >&2
	exit 2
	;;
esac
