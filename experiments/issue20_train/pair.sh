#!/bin/bash
# Train time of make run's train step, a base commit against this tree, alternated (issue 20, round 3).
# Usage: ROUNDS="1 2" experiments/issue20_train/pair.sh BASE_COMMIT OUT_DIR
# OUT_DIR gets run.toml (default.toml + the local ANT corpus), base/src (git archive of BASE_COMMIT, run
# through PYTHONPATH with this tree's venv), runs/, models/, pair.txt (uptime + /usr/bin/time per run).
set -e
base=$1; out=$2; tree=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out/base"
git -C "$tree" archive "$base" src | tar -x -C "$out/base"
rel=$(python3 -c "import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))" "$tree/experiments/default.toml" "$out")
printf 'extends = "%s"\n\n[data]\nant_corpus = "/work/shared/data/ant/ant_multisource_v2.1.csv.gz"\n' "$rel" > "$out/run.toml"
cd "$tree"
for round in ${ROUNDS:-1 2}; do
  for who in base new; do
    if [ $who = base ]; then export PYTHONPATH=$out/base/src; else unset PYTHONPATH; fi
    echo "$who round $round start: $(uptime)" >> "$out/pair.txt"
    /usr/bin/time -o "$out/pair_${who}_$round.time" -f "wall %e s user %U s sys %S s maxrss %M KB" \
      .venv/bin/python -m kwct_ml.train --config "$out/run.toml" --eval-set /work/shared/data/devset/sentences.tsv \
      --models-dir "$out/models" --runs-dir "$out/runs" --name "pair-$who-$round" > "$out/pair_${who}_$round.log" 2>&1
    echo "$who round $round end: $(uptime) :: $(cat "$out/pair_${who}_$round.time")" >> "$out/pair.txt"
  done
done
