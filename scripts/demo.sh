#!/usr/bin/env bash
# The README's main command: a federation of three fictional schools on 127.0.0.1.
#
#   bash scripts/demo.sh          set everything up from scratch, then serve (Ctrl-C stops)
#   bash scripts/demo.sh serve    serve what the last run set up
#   bash scripts/demo.sh renew    re-sign the short-lived timestamps (safe while serving)
#
# Three authorities (DEMO; JADE, with an 81-character English name; JHMC, merged into JADE after
# it issued its class) each issue their class; a federation operator admits them and publishes
# the trust list and the national site; DEMO delivers its documents to a local SMTP sink and one
# transcript to a local SFTP folder standing for WES. Then one national verifier and site are
# served as production does: nginx in front of gunicorn (docs/deployment.md).
#
# Settings: CERTSEAL_DEMO_PORT (8080), CERTSEAL_DEMO_HOME (~/.local/share/certseal-demo: keys,
# registries, the operator), CERTSEAL_DEMO_OUT (./demo-out: what is published and delivered),
# CERTSEAL_DEMO_SERVE=0 (set up, do not serve), CERTSEAL_DEMO_SETUP=0 (skip scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CERTSEAL_DEMO_SETUP:-1}" = 0 ] || bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

PORT="${CERTSEAL_DEMO_PORT:-8080}"
DEMO_HOME="${CERTSEAL_DEMO_HOME:-$HOME/.local/share/certseal-demo}"
OUT="${CERTSEAL_DEMO_OUT:-$PWD/demo-out}"
BASE="http://127.0.0.1:$PORT"
SITE="$OUT/site"              # the national site; each school's published folder under schools/
INPUT="$OUT/input"            # what the registrars and the operator were given
SCHOOLS=(DEMO JADE JHMC)
export CERTSEAL_PASSPHRASE="demo passphrase, not a secret"   # a real registrar is prompted
export CERTSEAL_ACTOR="demo-registrar"
export CERTSEAL_FEDERATION_HOME="$DEMO_HOME/federation"
DATA="python scripts/demo_data.py"

# Each school's authority keeps its keys and registry outside the checkout, as a real one must.
home_of() { echo "$DEMO_HOME/schools/$1"; }
as_school() { local id=$1; shift; CERTSEAL_HOME="$(home_of "$id")" certseal "$@"; }

renew() {
  same_setup
  echo "== Re-sign each school's status-list timestamp and the trust list's"
  for id in "${SCHOOLS[@]}"; do
    as_school "$id" authority publish --timestamp-only --out "$SITE/schools/$id"
  done
  certseal federation refresh
  certseal federation publish --out "$SITE" --site
}

# The addresses in the documents and the trust list name the port of the setup.
same_setup() {
  if [ ! -d "$SITE/trust" ] || [ ! -f "$DEMO_HOME/port" ]; then
    echo "Nothing set up in $OUT yet: run 'bash scripts/demo.sh' first." >&2
    echo "尚未在 $OUT 建立示範資料：請先執行 'bash scripts/demo.sh'。" >&2
    exit 3
  fi
  local was; was=$(cat "$DEMO_HOME/port")
  if [ "$was" != "$PORT" ]; then
    echo "The demo was set up for port $was: give CERTSEAL_DEMO_PORT=$was, or set it up again." >&2
    echo "示範資料是為連接埠 $was 建立的：請設定 CERTSEAL_DEMO_PORT=$was，或重新建立。" >&2
    exit 2
  fi
}

serve() {
  same_setup
  exec certseal verifier serve --federation "$BASE/trust/" \
    --root-pin "$CERTSEAL_FEDERATION_HOME/repo/metadata/1.root.json" \
    --site-dir "$SITE" --counts-db "$DEMO_HOME/verifier/counts.sqlite" \
    --run-dir "$DEMO_HOME/run" --port "$PORT"
}

case "${1:-}" in
  serve) serve ;;
  renew) renew; exit 0 ;;
  "") ;;
  *) echo "usage: bash scripts/demo.sh [serve|renew]" >&2; exit 2 ;;
esac

rm -rf "$DEMO_HOME" "$OUT"
mkdir -p "$INPUT" "$SITE/schools" "$DEMO_HOME"
echo "$PORT" >"$DEMO_HOME/port"

echo "== The federation operator: root keys (any 2 of 3 sign) and the online key"
certseal federation init --origin "127.0.0.1:$PORT/trust/log"

echo "== Three schools, each with its own page $BASE/schools/<ID>/ printed on its documents"
$DATA schools --port "$PORT" --out "$INPUT"
for id in "${SCHOOLS[@]}"; do
  as_school "$id" authority init --school "$INPUT/$id.json" >/dev/null
  # The request's addresses default to the school's page: <page>/status/ and <page>/log/.
  as_school "$id" authority export-request --out "$INPUT/$id-request.json" \
    --domain "${id,,}.example.edu.tw" >/dev/null
  certseal federation admit "$INPUT/$id-request.json"
done

# issue_class ID CSV_DIR: import a class, record the paper diplomas collected, issue what is due.
issue_class() {
  local id=$1 dir=$2
  as_school "$id" authority import graduates "$dir/graduates.csv"
  as_school "$id" authority import courses "$dir/courses.csv"
  as_school "$id" authority import ranks "$dir/ranks.csv"
  mapfile -t students < <(python -c '
import csv, sys
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")):
    print(row["student_id"])' "$dir/graduates.csv")
  as_school "$id" authority collected "${students[@]}" --on "$(date -u -d '2 days ago' +%F)" >/dev/null
  as_school "$id" authority issue --due | sed -n 1p   # the summary line; every file is listed
}

echo "== DEMO: the sample class of 30, its orders, a reissue and a revocation"
issue_class DEMO authority/sample_data
$DATA orders --out "$INPUT/DEMO-orders.csv"
as_school DEMO authority import orders "$INPUT/DEMO-orders.csv"
as_school DEMO authority issue-orders | sed -n 1p
read -r _ OLD REVOKED <<<"$(CERTSEAL_HOME="$(home_of DEMO)" $DATA diplomas 3)"
as_school DEMO authority reissue "$OLD" --reason lost
as_school DEMO authority revoke "$REVOKED" --reason-code degree_revoked \
  --reason "Demo: degree revoked by the senate"
as_school DEMO authority publish --out "$SITE/schools/DEMO"

echo "== DEMO delivers: e-mail to a local SMTP sink, one transcript to a local SFTP folder (WES)"
# One line a message goes to deliver.log; shown only when something goes wrong.
as_school DEMO authority deliver --smtp-sink "$OUT/mail" --sftp-sink "$OUT/wes" \
  2>"$DEMO_HOME/deliver.log" || { cat "$DEMO_HOME/deliver.log" >&2; exit 1; }

echo "== JADE: eight graduates"
$DATA class --first 8 --out "$INPUT/JADE-class"
issue_class JADE "$INPUT/JADE-class"
as_school JADE authority publish --out "$SITE/schools/JADE"

echo "== JHMC: six graduates; then it merges into JADE, which keeps its records"
$DATA class --first 6 --out "$INPUT/JHMC-class"
issue_class JHMC "$INPUT/JHMC-class"
as_school JHMC authority publish --out "$SITE/schools/JHMC"
sleep 1   # the merger takes effect after the last issuance, not in the same second
certseal federation set-state JHMC merged --successor JADE

echo "== The trust list and the national site"
certseal federation refresh
certseal federation publish --out "$SITE" --site
certseal federation list

echo "== Sample files to try, one folder per school, in $OUT/samples/"
CERTSEAL_HOME="$(home_of DEMO)" $DATA samples --home "$(home_of DEMO)" --out "$OUT/samples/DEMO" \
  --superseded "$OLD" --revoked "$REVOKED" --variants
for id in JADE JHMC; do
  CERTSEAL_HOME="$(home_of "$id")" $DATA samples --home "$(home_of "$id")" --out "$OUT/samples/$id"
done

MAILS=$(find "$OUT/mail" -name '*.eml' | wc -l)
SHOW="${OUT#"$PWD"/}"   # paths as a newcomer in the checkout types them
cat <<EOT

== Delivered by DEMO
  $MAILS messages in $SHOW/mail/ (.eml: open them in any mail program; the signed PDF is attached)
  the WES upload in $SHOW/wes/: $(cd "$OUT/wes" && ls)

== The national verifier and site: $BASE/
nginx listens there, reads each upload in full and serves the national site; gunicorn verifies
behind it, trusting each school only through the trust list from its pinned root. Each school's
own page (printed on its documents) is $BASE/schools/<ID>/: DEMO, JADE, JHMC. Try it:
  curl -s -F file=@$SHOW/samples/DEMO/genuine-diploma.pdf $BASE/api/v1/verify
  curl -s -F file=@$SHOW/samples/JADE/genuine-diploma.pdf $BASE/api/v1/verify
  curl -s -F file=@$SHOW/samples/JHMC/genuine-diploma.pdf -F lang=en $BASE/api/v1/verify
      (JHMC merged into JADE: its diploma stays valid and names JADE as keeping its records)
  curl -s -F file=@$SHOW/samples/DEMO/superseded-diploma.pdf -F lang=en $BASE/api/v1/verify
  curl -s -F file=@$SHOW/samples/DEMO/tampered-diploma.pdf $BASE/api/v1/verify
  curl -s -H 'Content-Type: application/pdf' --data-binary @$SHOW/samples/DEMO/revoked-diploma.pdf \\
    $BASE/api/v1/verify
  curl -s $BASE/api/v1/status
or open $BASE/ in a browser (verify, check without uploading, schools) and drop a file from
$SHOW/samples/.

The schools' status lists carry a timestamp valid for 6 hours, the trust list one valid for a
day: a demo left running longer answers "stale". Renew them while it runs (within a week; after
that, run the demo again): CERTSEAL_DEMO_PORT=$PORT bash scripts/demo.sh renew
Ctrl-C stops both servers; 'CERTSEAL_DEMO_PORT=$PORT bash scripts/demo.sh serve' starts them again.
EOT
[ "${CERTSEAL_DEMO_SERVE:-1}" = 0 ] || serve
