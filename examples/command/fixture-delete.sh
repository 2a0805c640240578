#!/bin/sh
# The erasing half of fixture-export.sh: removes the records of the customer with email $1 from
# the fixture. Exit 0 means erased (or nothing to erase); anything else fails the source.
#   delete_run = ["examples/command/fixture-delete.sh", "{email}"]
# With Stripe: look the customer up as in fixture-export.sh, then for each id
#   curl -sf -X DELETE "https://api.stripe.com/v1/customers/$id" -u "$STRIPE_KEY:" >/dev/null
set -eu
fixture=${FIXTURE:-$(dirname "$0")/customers.jsonl}
[ -w "$fixture" ] || { echo "fixture-delete: cannot write $fixture" >&2; exit 1; }
kept=$(mktemp "$fixture.XXXXXX")
grep -v -F "\"email\":\"$1\"" "$fixture" >"$kept" || [ $? -eq 1 ]
mv "$kept" "$fixture"
