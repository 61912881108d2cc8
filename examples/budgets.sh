#!/usr/bin/env bash
# The demo's budgets. A global monthly cap, per-team caps, and one small
# daily budget that runs out part way, so the demo shows rejections.
set -euo pipefail
L=${TOLLGATE_LEDGER:-tollgate-ledger}
"$L" budget set company-month --selector none --period month --limit-usd 50
"$L" budget set eng-month --selector costCenter=eng --period month \
	--limit-usd 10 --thresholds 50,80,100
"$L" budget set sales-prod-day --selector costCenter=sales,environment=prod \
	--period day --limit-usd 2
"$L" budget set research-day --selector costCenter=research --period day \
	--limit-usd 0.0012 --thresholds 50,80,100
"$L" budget set research-tokens --selector costCenter=research \
	--period month --limit-tokens 200000
