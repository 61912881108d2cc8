#!/usr/bin/env bash
# Builds helm (the Helm 3 CLI) from the Go module proxy into Go's bin folder
# (GOBIN, else GOPATH/bin), for the Helm chart's tests
# (tests/integration/test_helm_chart.py). Idempotent: skips the build when
# that folder already holds a helm built from the pinned module version with
# the link flags below, as `go version -m` reads them from the binary.
#
# The link flags are those of helm's own Makefile: without them `helm
# version` says v3.22 and, worse, `helm template` and `helm lint` assume
# Kubernetes v1.20 (the default of pkg/chartutil), which the chart's
# kubeVersion (>= 1.27, for CronJob timeZone) refuses. With them the default
# is the Kubernetes minor of helm's client-go, as in a release build.
#
# Needs the machine's Go (1.26 builds helm v3.22.0). Prints the binary's path
# on stdout. A fresh build (empty module and build caches) took 168-180 s on
# 2 shared cores and leaves about 1.1 GB in them; a rebuild is skipped.
#   deploy/local/install-helm.sh            # install, or check and skip
#   TOLLGATE_HELM_VERSION=v3.22.0 deploy/local/install-helm.sh
set -euo pipefail
# shellcheck disable=SC2034 # TG_NAME is read by lib.sh
TG_NAME=install-helm
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=${TOLLGATE_HELM_VERSION:-v3.22.0}

command -v go >/dev/null ||
	tg_die "go not found: helm is built from the Go module proxy with the machine's Go"

bindir=$(go env GOBIN)
[[ -n $bindir ]] || bindir=$(go env GOPATH)/bin
helm=$bindir/helm

# The Kubernetes minor helm's release build reports: client-go v0.N -> 1.N,
# read from helm's go.mod (which `go mod download` fetches first).
k8s_minor() {
	local gomod
	gomod=$(cd / && GOFLAGS=-mod=mod go mod download -json \
		"$HELM_MODULE@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
	[[ -f $gomod ]] || tg_die "go mod download gave no go.mod for $HELM_MODULE@$HELM_VERSION"
	sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9][0-9]*\)\..*/\1/p' "$gomod" | head -n 1
}

# "module-version ldflags" of a Go binary ("" when it is none).
built_as() {
	[[ -x $1 ]] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$HELM_MODULE" '
		$1 == "mod" && $2 == m { v = $3 }
		$1 == "build" && $2 ~ /^-ldflags=/ { sub(/^[ \t]*build[ \t]+-ldflags=/, ""); l = $0 }
		END { if (v != "") print v " " l }'
}

minor=$(k8s_minor)
[[ $minor =~ ^[0-9]+$ ]] || tg_die "could not read k8s.io/client-go's version from helm's go.mod"
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION"
for v in pkg/chartutil pkg/lint/rules; do
	ldflags+=" -X $pkg/$v.k8sVersionMajor=1 -X $pkg/$v.k8sVersionMinor=$minor"
done
# go version -m prints the flags quoted when they hold spaces.
want="$HELM_VERSION \"$ldflags\""

have=$(built_as "$helm")
if [[ $have == "$want" ]]; then
	tg_log "helm $HELM_VERSION: already in $helm"
	echo "$helm"
	exit 0
fi
tg_log "helm: building $HELM_MODULE@$HELM_VERSION into $bindir${have:+ (replacing ${have%% *})}"
t0=$(tg_now)
# -mod=mod: resolve helm's own go.mod, never a go.work or vendor folder
# around the current directory; run from / so no project go.mod is read.
(cd / && GOFLAGS=-mod=mod go install -ldflags="$ldflags" \
	"$HELM_MODULE/cmd/helm@$HELM_VERSION")
have=$(built_as "$helm")
[[ $have == "$want" ]] ||
	tg_die "built helm reports '${have:-nothing}', expected '$want'"
tg_log "helm $HELM_VERSION: built in $(tg_since "$t0")s (Kubernetes default v1.$minor)"
echo "$helm"
