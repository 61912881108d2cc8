#!/usr/bin/env bash
# Installs everything tollgate needs to build and test on Debian 12:
# Debian packages (skipped when all are present), the Python test packages
# of tests/requirements.txt, and the Kafka broker jars from Maven Central
# into deploy/local/lib/ (skipped when already resolved for this pom.xml).
# Idempotent; a re-run on a ready machine takes a few seconds.
set -euo pipefail
# shellcheck disable=SC2034 # TG_NAME is read by lib.sh
TG_NAME=install-deps
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
	build-essential pkg-config cmake ninja-build clang clang-format
	libclang-rt-14-dev valgrind git curl ca-certificates jq
	librdkafka-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev
	libssl-dev libuv1-dev libmicrohttpd-dev
	redis-server redis-tools kcat
	openjdk-17-jre-headless openjdk-17-jdk-headless maven python3 python3-pip
)

SUDO=
if ((EUID != 0)); then
	command -v sudo >/dev/null || tg_die "run as root (or install sudo)"
	SUDO=sudo
fi

install_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		tg_log "Debian packages: all present"
		return 0
	fi
	tg_log "Debian packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
}

pip_install() {
	python3 -m pip install -q --disable-pip-version-check \
		--root-user-action=ignore "$@"
}

install_python() {
	local req=$TG_REPO/tests/requirements.txt out
	[[ -f $req ]] || { tg_log "no $req, skipping Python packages"; return 0; }
	tg_log "Python packages: $(python3 --version) from $(command -v python3)"
	if out=$(pip_install -r "$req" 2>&1); then
		[[ -z $out ]] || echo "$out" >&2
		return 0
	fi
	if grep -q externally-managed-environment <<<"$out"; then
		tg_log "externally managed Python: retrying with --break-system-packages"
		pip_install --break-system-packages -r "$req"
		return 0
	fi
	echo "$out" >&2
	tg_die "pip install -r $req failed"
}

# Resolves the broker jars into lib/; a stamp with the POM's hash marks a
# complete copy, so an interrupted run or a changed POM resolves again.
install_kafka_jars() {
	local dir=$TG_LOCAL_DIR lib=$TG_LOCAL_DIR/lib tmp=$TG_LOCAL_DIR/target/lib hash i
	hash=$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)
	if [[ -f $lib/.resolved && $(<"$lib/.resolved") == "$hash" ]]; then
		tg_log "Kafka jars: already in $lib"
		return 0
	fi
	tg_log "Kafka jars: resolving from Maven Central (takes a minute the first time)"
	rm -rf "$tmp"
	for i in 1 2 3; do
		# Maven 3.8 prints stray ANSI resets even with -B -q: strip them.
		(cd "$dir" && mvn -B -q -Dstyle.color=never \
			dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 |
			sed 's/\x1b\[[0-9;]*m//g' >&2) && break
		((i < 3)) || tg_die "mvn could not resolve the Kafka jars"
		tg_log "mvn failed (try $i of 3), retrying"
		sleep 5
	done
	rm -rf "$lib"
	mv "$tmp" "$lib"
	rmdir "$dir/target" 2>/dev/null || true
	echo "$hash" >"$lib/.resolved"
	tg_log "Kafka jars: $(find "$lib" -name "*.jar" | wc -l) jars in $lib"
}

t0=$(tg_now)
install_apt
install_python
install_kafka_jars
tg_log "done after $(tg_since "$t0")s"
