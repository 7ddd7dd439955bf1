#!/usr/bin/env bash
# The ten scenarios of SPEC §2, driven through the scripted CLI with --json, every outcome checked.
#
#   examples/walkthrough.sh [DATABASE]
#
# DATABASE is a SQLite file path or a postgresql:// URL (default: a fresh SQLite file in a
# temporary directory, removed on exit). The database should be empty: the script seeds it with
# `init --demo` and expects the orders it places to be the only ones of their customers.
# DELIVERYCLI names the command (default `deliverycli`), e.g. DELIVERYCLI=".venv/bin/python -m deliverycli".
# PYTHON names the interpreter used to read JSON (default `python3`; only its standard library is used).
# Exits 0 when every step went as expected, 1 with a message naming the step that did not.
set -euo pipefail

if [[ $# -gt 1 || "${1:-}" == -* ]]; then
    echo "usage: [DELIVERYCLI=command] $0 [DATABASE]" >&2
    exit 2
fi
read -r -a CLI <<<"${DELIVERYCLI:-deliverycli}"
if ! command -v "${CLI[0]}" >/dev/null; then
    echo "walkthrough: cannot find ${CLI[0]}; put it on PATH or set DELIVERYCLI, e.g. DELIVERYCLI=.venv/bin/deliverycli" >&2
    exit 1
fi
PY="${PYTHON:-python3}"
# Resolve a version-manager shim (pyenv, asdf) to the interpreter itself once: it is called often.
PY="$("$PY" -c 'import sys; print(sys.executable)')" || { echo "walkthrough: cannot run ${PYTHON:-python3}" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/deliverycli-walkthrough.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
DB="${1:-$WORK/walkthrough.db}"

OUT=""  # stdout of the last command (one JSON document)
RC=0    # its exit code
LAST="" # the command line, for messages

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }

die() {
    printf '\nFAILED: %s\n' "$*" >&2
    printf '  command: deliverycli %s\n  exit code: %s\n  stdout: %s\n' "$LAST" "$RC" "$OUT" >&2
    if [[ -s "$WORK/stderr" ]]; then
        printf '  stderr: %s\n' "$(cat "$WORK/stderr")" >&2
    fi
    exit 1
}

# run ARGS...: the CLI on $DB with --json; sets OUT and RC, never trips `set -e`.
run() {
    LAST="$*"
    RC=0
    OUT="$("${CLI[@]}" --db "$DB" --json "$@" 2>"$WORK/stderr")" || RC=$?
}

# ok ARGS...: run and require exit code 0.
ok() {
    run "$@"
    [[ "$RC" == 0 ]] || die "expected exit code 0"
}

# fails CODE ERROR_CODE_PATTERN ARGS...: run and require that exit code and an {"error": ...} document.
fails() {
    local want="$1"
    shift
    run "$@"
    [[ "$RC" == "$want" ]] || die "expected exit code $want"
    [[ "$(get "d['error']['code']")" != "" ]] || die "expected an {\"error\": {...}} document"
    [[ "$OUT" != *Traceback* && "$(cat "$WORK/stderr")" != *Traceback* ]] || die "a traceback was printed"
}

# get EXPR: evaluate a Python expression over d, the JSON document in $OUT, and print the result.
get() {
    "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
r = eval(sys.argv[1])
print(" ".join(map(str, r)) if isinstance(r, (list, tuple)) else r)
' "$1" <<<"$OUT" || die "cannot read $1 from the output"
}

# expect WHAT ACTUAL EXPECTED
expect() {
    [[ "$2" == "$3" ]] || die "$1: expected '$3', got '$2'"
}

# status_is ORDER STATUS: the CQRS view (scenario 9) shows the order in STATUS.
status_is() {
    ok status "$1"
    expect "status of $1" "$(get "d['status']")" "$2"
}

# A status timeline with repeats collapsed: one entry per status change.
CHANGES='[s for i, s in enumerate(x["status"] for x in d["timeline"]) if i == 0 or d["timeline"][i - 1]["status"] != s]'
HAPPY_PATH="PENDING_PAYMENT PAID COOKING READY_FOR_PICKUP DELIVERING DELIVERED CONFIRMED"

step "init --demo: create the database and seed stores, menus, customers and riders"
ok init --demo
say "database: $DB"

step "browse: the stores, and pizza-palace's menu"
ok stores list
expect "stores" "$(get "sorted(s['id'] for s in d)")" "green-bowl pizza-palace seoul-bbq"
say "stores: $(get "', '.join(s['id'] + ' (' + s['name'] + ')' for s in d)")"
ok menus list --store pizza-palace
expect "pizza-palace menu" "$(get "sorted(m['id'] for m in d)")" "cola garlic-bread margherita pepperoni"
say "menu: $(get "', '.join(f\"{m['id']} {m['price']:,}\" for m in d)")"
MARGHERITA="$(get "next(m['price'] for m in d if m['id'] == 'margherita')")"
COLA="$(get "next(m['price'] for m in d if m['id'] == 'cola')")"

step "scenarios 1-2: alice orders 2 margherita + 1 cola and pays (synchronously)"
ok orders place --customer alice --store pizza-palace --item margherita:2 --item cola --address "101 Maple Rd"
ORDER="$(get "d['id']")"
expect "status of the new order" "$(get "d['status']")" PAID
expect "total" "$(get "d['total']")" "$((2 * MARGHERITA + COLA))"
say "$ORDER is PAID, total $(get "d['total']") $(get "d.get('currency', '')")"
ok payments show "$ORDER"
expect "payment of $ORDER" "$(get "d['status']")" APPROVED
say "payment: APPROVED, card $(get "d.get('card')")"

step "scenario 3: the paid order is in pizza-palace's order list"
ok store queue --store pizza-palace
expect "pizza-palace queue has $ORDER" "$(get "[o['id'] for o in d if o['id'] == '$ORDER']")" "$ORDER"
say "queue: $(get "', '.join(o['id'] + ' ' + o['status'] for o in d)")"

step "scenario 9: alice checks the status"
status_is "$ORDER" PAID
say "$ORDER: PAID"

step "scenario 5: pizza-palace accepts the order and starts cooking"
ok store accept "$ORDER" --store pizza-palace
expect "pizza-palace's ticket for $ORDER" "$(get "d['status']")" COOKING
say "$ORDER: COOKING"

step "scenario 6: cooking is done; the order joins the delivery list"
ok store ready "$ORDER" --store pizza-palace
expect "pizza-palace's ticket for $ORDER" "$(get "d['status']")" READY
ok deliveries list --available
expect "available deliveries include $ORDER" "$(get "[x['id'] for x in d if x['id'] == '$ORDER']")" "$ORDER"
say "$ORDER: cooked, and listed by deliveries list --available"

step "scenario 7: rider-kim picks the food up"
ok deliveries pickup "$ORDER" --rider rider-kim
expect "delivery of $ORDER" "$(get "d['status']") $(get "d['rider_id']")" "PICKED_UP rider-kim"
fails 4 deliveries pickup "$ORDER" --rider rider-lee
say "rider-kim has it (rider-lee, too late, gets exit code 4)"
status_is "$ORDER" DELIVERING
say "status of $ORDER: DELIVERING"
ok deliveries complete "$ORDER" --rider rider-kim
expect "delivery of $ORDER" "$(get "d['status']")" COMPLETED
say "$ORDER: delivered by rider-kim"

step "scenario 8: alice confirms the delivery arrived"
ok orders confirm "$ORDER" --customer alice
expect "status after confirm" "$(get "d['status']")" CONFIRMED
status_is "$ORDER" CONFIRMED
expect "timeline of $ORDER" "$(get "$CHANGES")" "$HAPPY_PATH"
say "timeline: $(get "$CHANGES")"

step "scenario 10: alice was notified of every status change"
ok notifications list --customer alice
expect "alice's notifications for $ORDER" "$(get "[n['status'] for n in d if n['order_id'] == '$ORDER']")" "$HAPPY_PATH"
say "$(get "len([n for n in d if n['order_id'] == '$ORDER'])") notifications; last: $(get "[n['message'] for n in d if n['order_id'] == '$ORDER'][-1]")"

step "scenario 4: bob orders, then cancels before cooking starts -> CANCELLED and refunded"
ok orders place --customer bob --store seoul-bbq --item bulgogi --item sikhye:2 --address "22 Pine St"
SECOND="$(get "d['id']")"
TOTAL="$(get "d['total']")"
fails 5 orders cancel "$SECOND" --customer alice
say "alice may not cancel bob's order (exit code 5)"
ok orders cancel "$SECOND" --customer bob
expect "status after cancel" "$(get "d['status']")" CANCELLED
ok payments show "$SECOND"
expect "payment of $SECOND" "$(get "d['status']") $(get "d['amount']")" "REFUNDED $TOTAL"
say "$SECOND: CANCELLED, payment REFUNDED ($TOTAL)"

step "scenario 4, refused: carol cancels after cooking started -> exit code 4, order goes on"
ok orders place --customer carol --store seoul-bbq --item bibimbap --address "7 Birch Ln"
THIRD="$(get "d['id']")"
ok store accept "$THIRD" --store seoul-bbq
fails 4 orders cancel "$THIRD" --customer carol
say "refused: $(get "d['error']['message']")"
status_is "$THIRD" COOKING
say "$THIRD: still COOKING"

step "scenario 2, declined: dave's card is declined -> exit code 6, nothing reaches the store"
fails 6 orders place --customer dave --store green-bowl --item poke --address "45 Cedar Ave" --card 4000000000000002
say "declined: $(get "d['error']['message']")"
ok orders list --customer dave
expect "dave's orders" "$(get "[o['status'] for o in d]")" REJECTED
DECLINED="$(get "d[0]['id']")"
ok store queue --store green-bowl
expect "green-bowl queue has no $DECLINED" "$(get "[o['id'] for o in d if o['id'] == '$DECLINED']")" ""
say "$DECLINED: REJECTED, not in green-bowl's queue"
fails 6 orders place --customer dave --store green-bowl --item poke --address "45 Cedar Ave" --card 4000000000000119
say "payment unavailable: $(get "d['error']['message']")"

step "store rejection: green-bowl rejects erin's order with a reason -> CANCELLED and refunded"
ok orders place --customer erin --store green-bowl --item smoothie --item caesar --address "9 Elm Ct"
FIFTH="$(get "d['id']")"
ok store reject "$FIFTH" --store green-bowl --reason "out of avocados"
status_is "$FIFTH" CANCELLED
expect "reason of $FIFTH mentions the store's reason" "$(get "'out of avocados' in (d.get('reason') or '')")" True
REASON="$(get "d['reason']")"
ok payments show "$FIFTH"
expect "payment of $FIFTH" "$(get "d['status']")" REFUNDED
say "$FIFTH: CANCELLED ($REASON), payment REFUNDED"

step "the event log: events tail --limit 5"
LAST="events tail --limit 5"
RC=0
"${CLI[@]}" --db "$DB" events tail --limit 5 || RC=$?
[[ "$RC" == 0 ]] || die "expected exit code 0"

printf '\nwalkthrough passed: all ten scenarios behaved as SPEC §2 and §5 say.\n'
