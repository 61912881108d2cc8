#!/usr/bin/env bash
# The whole path on local defaults, in one command:
#
#   deploy/local/demo.sh [--keep]
#
# installs what is missing (Debian packages, Kafka jars), builds, starts a
# real single-node Kafka (KRaft), Redis and the Bedrock simulator, sets the
# budgets of examples/budgets.sh, submits examples/requests.jsonl, runs two
# workers until every request has its completion, then prints what was spent
# per tag and what was rejected. The stack is stopped at the end unless
# --keep (then: deploy/local/stack.sh down).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "dependencies"
deploy/local/install-deps.sh

step "build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build

export TOLLGATE_BUILD_DIR=$REPO/build
export PATH=$REPO/build/producer:$REPO/build/worker:$REPO/build/ledger:$PATH
# The simulator checks SigV4 signatures with these demo credentials, so the
# worker's signing is exercised exactly as against AWS.
export AWS_ACCESS_KEY_ID=AKIDTOLLGATEDEMO AWS_SECRET_ACCESS_KEY=demo-secret-key
export AWS_REGION=us-east-1
export TOLLGATE_SIM_ARGS="--access-key-id $AWS_ACCESS_KEY_ID --secret-access-key $AWS_SECRET_ACCESS_KEY"

step "local stack: Kafka (KRaft), Redis, Bedrock simulator"
deploy/local/stack.sh up
eval "$(deploy/local/stack.sh env)"
export TOLLGATE_BROKERS TOLLGATE_REDIS TOLLGATE_BEDROCK_ENDPOINT
RUN=$REPO/.local/demo
mkdir -p "$RUN"
workers=()
cleanup() {
	for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	((KEEP)) || deploy/local/stack.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "budgets"
redis-cli -u "$TOLLGATE_REDIS" FLUSHDB >/dev/null # a fresh demo ledger
examples/budgets.sh
tollgate-ledger budget list

step "two workers"
for i in 1 2; do
	tollgate-worker --worker-id "demo-worker-$i" --group tollgate-demo \
		--metrics-port $((39463 + i)) 2>"$RUN/worker-$i.log" &
	workers+=($!)
done

step "submit examples/requests.jsonl and wait for every completion"
rm -f examples/requests.jsonl.tollgate-ids
set +e
tollgate-submit --wait --timeout 120 --out "$RUN/completions.jsonl" \
	examples/requests.jsonl
rc=$?
set -e
echo "tollgate-submit exit code $rc (0 all completed, 3 some rejected/failed/invalid, 4 some missing)"
((rc == 0 || rc == 3)) || { tail -20 "$RUN"/worker-*.log; exit 1; }

step "what was decided"
jq -r '[.requestId, .status, (.reason // "")] | @tsv' "$RUN/completions.jsonl" |
	awk -F'\t' '{n[$2]++} $2!="completed"{print "  " $1 "  " $2 "  " $3} END{for(s in n) printf "  %-10s %d\n", s, n[s]}'

step "spend per tag (tollgate-ledger report, from the usage topic)"
tollgate-ledger report --group-by costCenter,environment
tollgate-ledger report --group-by costCenter,decision
tollgate-ledger report --group-by costCenter,model --format html \
	--out "$RUN/report.html"

step "budgets now"
tollgate-ledger status
tollgate-ledger reconcile

step "done"
echo "completions: $RUN/completions.jsonl"
echo "HTML report: $RUN/report.html"
if ((KEEP)); then echo "stack left running: deploy/local/stack.sh down to stop it"; fi
