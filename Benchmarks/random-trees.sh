#!/usr/bin/env bash
# Benchmarks/random-trees.sh [N] [check_random_trees.sh options]
#
# N (default 200) fresh random trees through `stamp mkfs`, each checked by e2fsck -fn
# (silent) and dissect.extfs entry by entry (Tests/tools/check_random_trees.sh). CI runs
# seeds 1-200 every time; this draws new seeds, printed on failure for replay with
# `Tests/tools/check_random_trees.sh --seeds S-S --keep`. Needs root.
set -euo pipefail
n=${1:-200}; shift || true
exec "$(dirname "$0")/../Tests/tools/check_random_trees.sh" --fresh "$n" "$@"
