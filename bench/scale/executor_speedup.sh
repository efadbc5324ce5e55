#!/usr/bin/env bash
# Usage: bench/scale/executor_speedup.sh HOME (a finished mlcost run of the demo, copied for each mode).
# Rerun of the demo's two months (daily tables of 61 days recomputed; deliveries already published) in each mode.
set -u
cd "$(dirname "$0")/../.."  # the repository root: the fixtures and .venv are there
for mode in in_process multiprocess in_process multiprocess; do
  home=/tmp/scale_rerun_$mode
  rm -rf $home && cp -a "${1:?usage: executor_speedup.sh MLCOST_HOME-of-a-finished-demo-run}" $home
  export MLCOST_HOME=$home DAGSTER_HOME=$home/dh MLCOST_CUR_SOURCE=$PWD/fixtures/generated/cur2 \
    MLCOST_GPU_SOURCE=$PWD/fixtures/generated/gpu MLCOST_PREDICTIONS_SOURCE=$PWD/fixtures/generated/predictions \
    MLCOST_EXECUTOR=$mode MLCOST_MAX_WORKERS=2
  echo "== $mode load $(cut -d' ' -f1 /proc/loadavg)"
  /usr/bin/time -f "$mode wall %e s user %U s sys %S s maxrss %M KB" .venv/bin/mlcost run > $home.out 2> $home.err
  tail -1 $home.err; head -1 $home.out; sed -n 4,5p $home.out
done
