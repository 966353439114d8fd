#!/usr/bin/env bash
# The whole story against a running hub, with curl and jq: tokens for two nations,
# an emergency, a request for assistance, an offer and the proposal it gets,
# acceptance, dispatch, delivery, the situation report in every format, the event
# stream, and a signed alert from an integration.
#
#   scripts/run-hub &            # or any hub; EADRCC_URL says where (default below)
#   docs/walkthrough.sh
#
# Tokens are issued with the `eadrcc` command on the hub's own database (the same
# embedded database from any directory, or DATABASE_URL). CI runs this script
# against a real hub (tests/e2e/test_walkthrough.py), so it stays true.
set -euo pipefail

HUB=${EADRCC_URL:-http://127.0.0.1:8080}
API=$HUB/api/v1
EADRCC=${EADRCC:-eadrcc}
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || { echo "walkthrough: needs $tool" >&2; exit 2; }
done

say() { printf '\n== %s\n' "$*"; }

# call TOKEN METHOD PATH [JSON-BODY or ''] [more curl options]: print the answer;
# stop on 4xx/5xx (the problem+json body is printed first).
call() {
  local token=$1 method=$2 path=$3 body=${4:-}
  shift $(($# < 4 ? $# : 4))
  local args=(-sS --fail-with-body -X "$method" -H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H "Content-Type: application/json" --data "$body")
  curl "${args[@]}" "$@" "$API$path"
}

in_hours() { date -u -d "+$1 hours" +%Y-%m-%dT%H:%M:%SZ; }

say "1. Tokens: a duty officer, the points of contact of Türkiye and Norway, an alert feed"
OFFICER=$("$EADRCC" token create --role duty_officer --name "Walkthrough duty officer" --json | jq -r .token)
TUR=$("$EADRCC" token create --role poc --country TUR --name "Walkthrough AFAD desk" --json | jq -r .token)
NOR=$("$EADRCC" token create --role poc --country NOR --name "Walkthrough DSB desk" --json | jq -r .token)
FEED=$("$EADRCC" token create --role integration --name "Walkthrough alert feed" --json)
FEED_TOKEN=$(jq -r .token <<<"$FEED")
FEED_SECRET=$(jq -r .secret <<<"$FEED")
call "$TUR" GET /me | jq -c '{role, country}'

say "2. Türkiye opens an emergency (an exercise, so nothing here looks real)"
EMERGENCY=$(call "$TUR" POST /emergencies '{
  "title": "Walkthrough earthquake", "hazard": "earthquake", "countries": ["TUR"],
  "location": {"lat": 37.17, "lon": 37.03}, "severity": "extreme", "exercise": true
}' | jq -r .id)
echo "emergency $EMERGENCY"

say "3. Türkiye files a request for assistance with two needs"
RFA=$(call "$TUR" POST "/emergencies/$EMERGENCY/requests" "{
  \"requesting_country\": \"TUR\",
  \"needs\": [
    {\"resource_type\": \"usar.heavy\", \"quantity\": 2, \"priority\": \"critical\",
     \"needed_by\": \"$(in_hours 24)\", \"delivery\": {\"lat\": 37.58, \"lon\": 36.93, \"place\": \"Kahramanmaraş\"}},
    {\"resource_type\": \"shelter.tent.family\", \"quantity\": 500, \"priority\": \"high\",
     \"needed_by\": \"$(in_hours 72)\", \"delivery\": {\"lat\": 37.58, \"lon\": 36.93, \"place\": \"Kahramanmaraş\"}}
  ]}")
REQUEST=$(jq -r .id <<<"$RFA")
jq -c '.needs[] | {id, resource_type, requested}' <<<"$RFA"

say "4. Norway offers 300 tents; the answer carries the proposal made at once"
OFFER_BODY="{
  \"emergency_id\": \"$EMERGENCY\", \"offering_country\": \"NOR\", \"channel\": \"direct\",
  \"items\": [{\"resource_type\": \"shelter.tent.family\", \"quantity\": 300,
    \"available_from\": \"$(in_hours 6)\", \"origin\": {\"lat\": 59.91, \"lon\": 10.75},
    \"self_sufficient\": true, \"credentials\": []}]}"
KEY="walkthrough-$EMERGENCY"  # a retry with the same key and body gets the same answer
OFFER=$(call "$NOR" POST /offers "$OFFER_BODY" -H "Idempotency-Key: $KEY")
AGAIN=$(call "$NOR" POST /offers "$OFFER_BODY" -H "Idempotency-Key: $KEY")
[ "$(jq -r .id <<<"$OFFER")" = "$(jq -r .id <<<"$AGAIN")" ] && echo "retried: same offer $(jq -r .id <<<"$OFFER")"
MATCH=$(jq -r '.matches[0].id' <<<"$OFFER")
jq -c '.matches[] | {id, quantity, score, status}' <<<"$OFFER"

say "5. Türkiye accepts the proposal (an empty body accepts all of it)"
call "$TUR" POST "/matches/$MATCH/accept" '{}' | jq -c '{id, status, quantity}'

say "6. Norway dispatches the tents with an ETA; Türkiye records their arrival in two parts"
call "$NOR" POST "/matches/$MATCH/dispatch" "{\"quantity\": 300, \"eta\": \"$(in_hours 30)\"}" \
  | jq -c '{status, dispatched, eta}'
call "$TUR" POST "/matches/$MATCH/deliver" '{"quantity": 200}' | jq -c '{status, delivered}'
call "$TUR" POST "/matches/$MATCH/deliver" '{"quantity": 100}' | jq -c '{status, delivered}'

say "7. The picture per need: accepted, in transit and delivered are disjoint; proposals never count as cover"
call "$OFFICER" GET "/requests/$REQUEST" \
  | jq -c '.needs[] | {resource_type, requested, accepted, in_transit, delivered, uncovered_quantity}'

say "8. The situation report: JSON, Markdown, CSV and printable HTML"
SITREP=/emergencies/$EMERGENCY/sitrep
call "$OFFICER" GET "$SITREP" | jq -c .summary
# sed, not head: head exits early, and curl writing the rest into a closed pipe
# fails the pipeline (pipefail) whenever the answer comes in more than one piece.
call "$OFFICER" GET "$SITREP?format=md" | sed -n 1,3p
call "$OFFICER" GET "$SITREP" '' -H "Accept: text/csv" | sed -n 1,2p
call "$OFFICER" GET "$SITREP?format=html" | grep -c "<table" | sed 's/$/ HTML table(s)/'

say "9. The event stream: the delivery as eadrcc tail saw it"
EADRCC_TOKEN=$OFFICER "$EADRCC" tail --url "$HUB" --since 0 --emergency "$EMERGENCY" \
  --kind match.delivered --count 1

say "10. A signed CAP alert from the integration: HMAC-SHA256 over \"<timestamp>.<body>\""
CAP=$(mktemp)
trap 'rm -f "$CAP"' EXIT
cat >"$CAP" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>walkthrough-$(date -u +%s%N)</identifier>
  <sender>walkthrough@example.org</sender>
  <sent>$(date -u +%Y-%m-%dT%H:%M:%S+00:00)</sent>
  <status>Exercise</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Geo</category>
    <event>Earthquake</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>Exercise: M6.1 earthquake near Kahramanmaraş</headline>
    <area>
      <areaDesc>Kahramanmaraş, Türkiye</areaDesc>
      <circle>37.58,36.93 50</circle>
    </area>
  </info>
</alert>
XML
TS=$(date +%s)
SIG=$({ printf '%s.' "$TS"; cat "$CAP"; } | openssl dgst -sha256 -hmac "$FEED_SECRET" -r | cut -d' ' -f1)
curl -sS --fail-with-body -X POST "$API/alerts" \
  -H "Authorization: Bearer $FEED_TOKEN" -H "Content-Type: application/cap+xml" \
  -H "X-EADRCC-Timestamp: $TS" -H "X-EADRCC-Signature: sha256=$SIG" \
  --data-binary @"$CAP" -w '\nHTTP %{http_code}\n' | tail -n 1

say "walkthrough complete"
