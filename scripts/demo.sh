#!/usr/bin/env bash
# The README's main command: set up, run a demo authority end to end, then serve the verifier
# and the public site on 127.0.0.1 as production does: nginx buffers every request in front of
# gunicorn (docs/deployment.md). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

# The demo authority's keys and registry live outside the checkout, as a real one's must.
export CERTSEAL_HOME="${CERTSEAL_DEMO_HOME:-$HOME/.local/share/certseal-demo}/authority"
export CERTSEAL_PASSPHRASE="demo passphrase, not a secret"   # a real registrar is prompted
export CERTSEAL_ACTOR="demo-registrar"
OUT="$PWD/demo-out"
PORT="${CERTSEAL_DEMO_PORT:-8080}"
SAMPLES="authority/sample_data"

rm -rf "$(dirname "$CERTSEAL_HOME")" "$OUT"
mkdir -p "$OUT/samples"

echo "== Set up the demo authority (root CA, document-signing and status-list keys)"
certseal authority init --demo
echo "== Import the sample class"
certseal authority import graduates "$SAMPLES/graduates.csv"
certseal authority import courses "$SAMPLES/courses.csv"
certseal authority import ranks "$SAMPLES/ranks.csv"
echo "== Paper diplomas collected; digital diplomas due"
mapfile -t STUDENTS < <(python - "$SAMPLES/graduates.csv" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")):
    print(row["student_id"])
PY
)
certseal authority collected "${STUDENTS[@]}" --on "$(date -u -d '2 days ago' +%F)"
certseal authority due | head -5
echo "== Issue every due digital diploma"
certseal authority issue --due | head -3
echo "== Issue electronic documents for orders"
mapfile -t WITH_COURSES < <(python - "$SAMPLES/courses.csv" <<'PY'
import csv, sys
seen = []
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")):
    if row["student_id"] not in seen:
        seen.append(row["student_id"])
print("\n".join(seen[:3]))
PY
)
mapfile -t WITH_RANK < <(python - "$SAMPLES/ranks.csv" <<'PY'
import csv, sys
print(next(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))["student_id"])
PY
)
for s in "${WITH_COURSES[@]}"; do
  certseal authority issue --type transcript --student "$s" --order "ORD-$s" | head -2
done
certseal authority issue --type rank_certificate --student "${WITH_RANK[0]}" --order "ORD-R1" | head -2
certseal authority issue --type degree_certificate_en --student "${STUDENTS[0]}" --order "ORD-D1" | head -2

DIPLOMAS=$(certseal authority --json list | python -c '
import json, sys
docs = [d for d in json.load(sys.stdin) if d["type"] == "diploma_zh"]
print(docs[0]["doc_id"], docs[1]["doc_id"], docs[2]["doc_id"])')
read -r GENUINE OLD REVOKED <<<"$DIPLOMAS"
echo "== Reissue $OLD (補發) and revoke $REVOKED"
certseal authority reissue "$OLD" --reason lost
certseal authority revoke "$REVOKED" --reason-code degree_revoked --reason "Demo: degree revoked by the senate"
echo "== Publish the signed status list and the public site"
certseal authority publish --out "$OUT/site"

echo "== Sample files to try, in demo-out/samples/"
python - "$CERTSEAL_HOME" "$OUT/samples" "$GENUINE" "$OLD" "$REVOKED" <<'PY'
import io, json, shutil, subprocess, sys, zipfile
from pathlib import Path
home, out, genuine, old, revoked = Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:]
docs = {d["doc_id"]: d for d in json.loads(subprocess.run(
    ["certseal", "authority", "--json", "list"], capture_output=True, check=True).stdout)}
def copy(doc_id, name):
    shutil.copy(home / docs[doc_id]["path"], out / name)
copy(genuine, "genuine-diploma.pdf")
copy(old, "superseded-diploma.pdf")
copy(revoked, "revoked-diploma.pdf")
transcript = next(d for d in docs.values() if d["type"] == "transcript")
copy(transcript["doc_id"], "transcript-limit-3.pdf")
data = (out / "genuine-diploma.pdf").read_bytes()
mid = len(data) // 3
(out / "tampered-diploma.pdf").write_bytes(data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:])
(out / "appended-diploma.pdf").write_bytes(data + b"\n% added after signing\n")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("genuine-diploma.pdf", data)
(out / "diploma-in-a-zip.zip").write_bytes(buf.getvalue())
for p in sorted(out.iterdir()):
    print("  ", p.name)
PY
certseal authority export-trust --out "$OUT/trust" >/dev/null

cat <<EOT

== The verifier and the public site: http://127.0.0.1:$PORT/
nginx listens there, reads each upload in full and serves the site; gunicorn (2 workers) verifies
behind it on a unix socket (docs/deployment.md). Try it:
  curl -s -F file=@demo-out/samples/genuine-diploma.pdf http://127.0.0.1:$PORT/api/v1/verify
  curl -s -F file=@demo-out/samples/superseded-diploma.pdf -F lang=en http://127.0.0.1:$PORT/api/v1/verify
  curl -s -F file=@demo-out/samples/tampered-diploma.pdf http://127.0.0.1:$PORT/api/v1/verify
  curl -s -H 'Content-Type: application/pdf' --data-binary @demo-out/samples/revoked-diploma.pdf \
    http://127.0.0.1:$PORT/api/v1/verify
  curl -s http://127.0.0.1:$PORT/api/v1/status
or open http://127.0.0.1:$PORT/ in a browser and drop a file from demo-out/samples/.
Ctrl-C stops both servers.
EOT
exec certseal verifier serve --trust-dir "$OUT/trust" --source "$OUT/site" --site-dir "$OUT/site" \
  --counts-db "$(dirname "$CERTSEAL_HOME")/verifier/counts.sqlite" --port "$PORT"
