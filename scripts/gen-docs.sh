#!/usr/bin/env bash
# Regenerate completions/ and man/ from the clap definition (a test fails when they are stale).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --locked
DSAR=target/debug/dsar
mkdir -p completions
$DSAR completions bash >completions/dsar.bash
$DSAR completions zsh >completions/_dsar
$DSAR completions fish >completions/dsar.fish
$DSAR completions elvish >completions/dsar.elv
$DSAR completions powershell >completions/_dsar.ps1
rm -rf man && $DSAR man --out man
echo "regenerated completions/ and man/ ($(ls man | wc -l) pages)"
