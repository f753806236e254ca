#!/usr/bin/env bash
# Regenerate every committed example report from scratch (fixed seeds: the same numbers
# every time). Run from the repository root as `make reports` (or `bash reports/regenerate.sh`
# with the project's virtual environment active). Takes about 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
TABINV=${TABINV:-.venv/bin/tabinv}

# Each run writes result.json, report.md (with its figures) and report.html into a folder
# it owns; old outputs are replaced, nothing else is touched.
gss() {  # NAME MODEL SENSITIVE POSITIVE [extra options]
  local name=$1 model=$2 sensitive=$3 positive=$4; shift 4
  "$TABINV" assess --dataset gss --model "$model" -s "$sensitive" --attack all \
    --prior marginal --prior learned --positive "$sensitive=$positive" "$@" \
    --out "reports/gss/$name"
}
genomic() {  # NAME [extra options]
  local name=$1; shift
  "$TABINV" assess --dataset genomic --people 5000 --snps 2000 --model xgboost \
    -s snp_01592 --attack all --prior marginal --prior learned --positive snp_01592=2 "$@" \
    --out "reports/genomic/$name"
}

gss forest-partyid forest partyid 'strong republican' --membership
gss forest-partyid-rounded forest partyid 'strong republican' --rounding 1
gss tree-relactiv tree relactiv 'weekly or more'
gss tree-relactiv-rounded tree relactiv 'weekly or more' --rounding 1
genomic xgboost
genomic xgboost-rounded --rounding 1
"$TABINV" demo warfarin-dp --seeds 5 --jobs 2   # writes reports/warfarin-dp/
