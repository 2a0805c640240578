# Helpers bench/run.sh and bench/other_kinds.sh share; sourced by both (not run on its own).
# Figures go to stdout as `name: value`, everything else to stderr.

log() { echo "bench: $*" >&2; }
figure() { echo "$1: $2"; }
# Seconds from $1 to $2 (both `date +%s.%N`).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# a / b; n/a when b is 0 (a baseline shorter than its clock's resolution: a CPU time under one
# clock tick in a --quick run on a fast machine), instead of an awk division error.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
