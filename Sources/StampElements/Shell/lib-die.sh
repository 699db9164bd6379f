# shellcheck shell=bash
# stamp: die MESSAGE... — print to stderr and exit 1 (sourced by element scripts).
die() {
    echo "ERROR: $*" >&2
    exit 1
}
