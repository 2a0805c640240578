#!/bin/sh
# A command source for dsar that stands in for an external service (a billing API, say).
# It prints the records of the customer with email $1, one JSON object per line, from a local
# JSON-lines fixture: $FIXTURE, or customers.jsonl beside this script.
#   run = ["examples/command/fixture-export.sh", "{email}"]
# A real service is wrapped the same way, e.g. Stripe with curl and jq:
#   curl -sf -G https://api.stripe.com/v1/customers -u "$STRIPE_KEY:" \
#        --data-urlencode "email=$1" | jq -c '.data[]'
set -eu
fixture=${FIXTURE:-$(dirname "$0")/customers.jsonl}
[ -r "$fixture" ] || { echo "fixture-export: cannot read $fixture" >&2; exit 1; }
# grep exits 1 when nothing matches: no records is an answer, not a failure.
grep -F "\"email\":\"$1\"" "$fixture" || [ $? -eq 1 ]
