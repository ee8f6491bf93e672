"""The documents a registrar signs off on: real seal, emblem and certificate number, the layouts
of every type (rendered to PNG in test-artifacts/), PDF/A-3b with its machine-readable twin,
and the signature over both (pdfsig, pyhanko, pikepdf after signing)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from authority.config import DEMO_SCHOOL, School, TranscriptRules
from authority.content import DocumentContent
from authority.keys import Identity, load_identity
from authority.records import Course, Graduate, Rank, iter_by_student, parse_csv
from authority.render import Renderer
from authority.render.wording import totals
from authority.service import init_authority
from authority.signing import DocumentSealer
from authority.twin import FILE_NAME, MEDIA_TYPE, TwinSigner, credential
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import ConfigurationError, RenderError
from tests.conftest import NOW, PASSPHRASE, nss_db
from verifier import twin as verifier_twin

ISSUED_ON = dt.date(2026, 7, 1)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOLDER = "B11102001"  # 王大堃: a full bachelor's transcript and a rank


def _sample(kind: str) -> tuple[object, ...]:
    data = resources.files("authority").joinpath("sample_data", f"{kind}.csv").read_bytes()
    return parse_csv(kind, data).accepted


@dataclasses.dataclass(frozen=True)
class Kit:
    """A real authority's signing identity, and what its documents are made from."""

    home: Path
    identity: Identity
    renderer: Renderer
    sealer: DocumentSealer
    twins: TwinSigner
    graduates: dict[str, Graduate]
    courses: dict[str, list[Course]]
    ranks: dict[str, Rank]

    def content(
        self, code: str, student: str = HOLDER, school: School = DEMO_SCHOOL
    ) -> DocumentContent:
        dtype = DOCUMENT_TYPES[code]
        return DocumentContent(
            dtype,
            f"DEMO-{dtype.short}-2026-000123",
            ISSUED_ON,
            school,
            self.graduates[student],
            tuple(self.courses.get(student, ())),
            self.ranks.get(student),
        )

    def archival(self, content: DocumentContent) -> bytes:
        """Rendered as PDF/A-3b with its twin, then certified: as the authority issues it."""
        pdf = self.renderer.render(
            content, print_locked=False, attachment=self.twins.attachment(content)
        )
        return self.sealer.seal(pdf)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    home = tmp_path_factory.mktemp("documents") / "home"
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30))
    identity = load_identity(home / "keys", "signing", PASSPHRASE)
    graduates = [g for g in _sample("graduates") if isinstance(g, Graduate)]
    courses = [c for c in _sample("courses") if isinstance(c, Course)]
    ranks = [r for r in _sample("ranks") if isinstance(r, Rank)]
    return Kit(
        home,
        identity,
        Renderer(),
        DocumentSealer(identity),
        TwinSigner(identity),
        {g.student_id: g for g in graduates},
        iter_by_student(courses),
        {r.student_id: r for r in ranks},
    )


def run(*args: str, check: bool = True) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=check).stdout


def text_of(path: Path) -> str:
    return " ".join(run("pdftotext", "-enc", "UTF-8", str(path), "-").split())


def twin_of(pdf: pikepdf.Pdf) -> bytes:
    """The associated file, found from the catalog's /AF, as a PDF/A-3 reader finds it."""
    (spec,) = list(pdf.Root.AF)
    return bytes(spec.EF.F.read_bytes())


def _b64(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def jws_parts(token: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(b".")
    return json.loads(_b64(header)), json.loads(_b64(payload))


def registry() -> JWSRegistry:
    """ES256 only; a header up to 8 KB, as it carries the certificate chain (x5c, about 2 KB),
    where joserfc allows 512 bytes by default."""
    reg = JWSRegistry(algorithms=["ES256"])
    reg.max_header_length = 8192
    return reg


# --- every document type, rendered and looked at -------------------------------------------


@pytest.mark.parametrize("code", sorted(DOCUMENT_TYPES))
def test_every_document_type_renders_to_png_with_seal_and_emblem(
    kit: Kit, code: str, tmp_path: Path
) -> None:
    """The renders in test-artifacts/ show the real layout: seal and emblem images, no
    placeholder box; the transcript's pages all rendered."""
    content = kit.content(code)
    path = tmp_path / f"{code}.pdf"
    path.write_bytes(kit.archival(content))
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob(f"{code}-*.png"):
        old.unlink()
    run("pdftoppm", "-png", "-r", "60", str(path), str(ARTIFACTS / code))
    pngs = sorted(ARTIFACTS.glob(f"{code}-*.png"))
    pages = int(re.findall(r"^Pages:\s+(\d+)", run("pdfinfo", str(path)), re.M)[0])
    assert len(pngs) == pages
    text = text_of(path)
    assert "校印" not in text and "Seal" not in text  # the real seal replaces the red box
    with pikepdf.open(path) as pdf:
        first = pdf.pages[0]
        drawn: dict[str, Any] = dict(first.Resources.get("/XObject", {}))
        # The emblem is a PNG: an image with its transparency as a soft mask.
        assert any(x.get("/SMask") is not None for x in drawn.values()), code
    assert content.document_number in text


def test_configured_seal_svg_is_vector_and_emblem_png_is_an_image(kit: Kit, tmp_path: Path) -> None:
    plain = dataclasses.replace(DEMO_SCHOOL, seal_image="", emblem_image="")
    pdfs = {}
    for name, school in (("plain", plain), ("marked", DEMO_SCHOOL)):
        pdf = kit.renderer.render(kit.content("diploma_zh", school=school), print_locked=False)
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        pdfs[name] = pdf
    assert "校印" in text_of(tmp_path / "plain.pdf")  # no seal configured: the box says so
    assert "校印" not in text_of(tmp_path / "marked.pdf")
    with pikepdf.open(tmp_path / "plain.pdf") as plain_pdf:
        assert "/XObject" not in plain_pdf.pages[0].Resources or all(
            x.get("/SMask") is None for x in plain_pdf.pages[0].Resources.XObject.values()
        )
    with pikepdf.open(tmp_path / "marked.pdf") as marked:
        ops = pikepdf.parse_content_stream(marked.pages[0])
        # The seal's outlines are paths filled in its red (0.698 0.133 0.133 rg).
        reds = [
            o
            for o in ops
            if o.operator == pikepdf.Operator("rg") and round(float(o.operands[0]), 2) == 0.7
        ]
        assert reds


def test_chinese_diploma_has_certificate_number_and_no_gap_before_the_seal(
    kit: Kit, tmp_path: Path
) -> None:
    path = tmp_path / "dz.pdf"
    path.write_bytes(kit.renderer.render(kit.content("diploma_zh"), print_locked=False))
    assert "證書字號：(115)示大字第000123號" in text_of(path)
    html = run("pdftotext", "-bbox", "-enc", "UTF-8", str(path), "-")
    ys = {
        m.group(2): float(m.group(1))
        for m in re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>', html)
    }
    gap_mm = (ys["校長"] - ys["此證"]) * 25.4 / 72
    assert 10 < gap_mm < 30, gap_mm  # was about 55 mm of empty paper


def test_english_diploma_and_certificates_name_their_signers(kit: Kit, tmp_path: Path) -> None:
    texts = {}
    for code in ("diploma_en", "degree_certificate_en", "degree_certificate_zh_en"):
        path = tmp_path / f"{code}.pdf"
        path.write_bytes(kit.renderer.render(kit.content(code), print_locked=False))
        texts[code] = text_of(path)
    assert "Ming-Te Lin President" in texts["diploma_en"]
    assert "Diploma No. (115)示大字第000123號" in texts["diploma_en"]
    assert "Yi-Chun Chen Dean of Academic Affairs" in texts["degree_certificate_en"]
    parallel = texts["degree_certificate_zh_en"]
    assert "教務長 陳怡君" in parallel and "Yi-Chun Chen, Dean of Academic Affairs" in parallel
    assert "學位證明書" in parallel and "Certificate of Degree" in parallel
    assert "茲證明王大堃" in parallel.replace(" ", "")
    assert "This is to certify that WANG, TA-KUN" in parallel


def test_a_school_without_certifier_has_its_president_sign(kit: Kit, tmp_path: Path) -> None:
    school = dataclasses.replace(DEMO_SCHOOL, certifier_zh="", certifier_en="")
    path = tmp_path / "dc.pdf"
    doc = kit.content("degree_certificate_en", school=school)
    path.write_bytes(kit.renderer.render(doc, print_locked=True))
    assert "Ming-Te Lin President" in text_of(path)


# --- transcripts -------------------------------------------------------------------------


def test_transcript_prints_term_and_overall_credits_averages_and_rank(
    kit: Kit, tmp_path: Path
) -> None:
    school = dataclasses.replace(DEMO_SCHOOL, transcript=TranscriptRules(print_rank=True))
    content = kit.content("transcript", school=school)
    path = tmp_path / "tr.pdf"
    path.write_bytes(kit.renderer.render(content, print_locked=True))
    text = text_of(path)
    # 111-1: 81×2 + 75×2 + 92×2 + 79×2 over 8 credits (體育 passes, 0 credits; 抵免 waived).
    assert "實得學分 Credits: 11" in text and "學期平均 Average: 81.75" in text
    overall = totals(content.courses, "bachelor", school.transcript)
    assert f"總平均 Overall Average: {overall.average_text(school.transcript)}" in text
    assert f"Total Credits Earned: {overall.earned}" in text
    rank = kit.ranks[HOLDER]
    assert f"系排名 Department Rank: {rank.department_rank} / {rank.department_size}" in text
    without = tmp_path / "tr-norank.pdf"
    without.write_bytes(kit.renderer.render(kit.content("transcript"), print_locked=True))
    assert "Department Rank" not in text_of(without)  # the default: not printed


def test_transcript_course_rows_are_ruled_the_width_of_the_header(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "tr.pdf"
    path.write_bytes(kit.renderer.render(kit.content("transcript"), print_locked=False))
    with pikepdf.open(path) as pdf:
        ops = list(pikepdf.parse_content_stream(pdf.pages[0]))
    lines = []
    for prev, op in itertools.pairwise(ops):
        if op.operator == pikepdf.Operator("l") and prev.operator == pikepdf.Operator("m"):
            x0, y0 = (float(v) for v in prev.operands)
            x1, y1 = (float(v) for v in op.operands)
            if abs(y0 - y1) < 0.01:
                lines.append((round(x0, 1), round(x1, 1)))
    widths = {line for line in lines if line[1] - line[0] > 300}
    assert len(widths) == 1, widths  # header, term and course rules: one width


_ROWS = (
    Course("B11102001", "113-1", "A1", "甲", "A", 3, "59"),
    Course("B11102001", "113-1", "A2", "乙", "B", 2, "90"),
    Course("B11102001", "113-1", "A3", "丙", "C", 3, "86"),
    Course("B11102001", "113-1", "A4", "丁", "D", 1, "88"),
    Course("B11102001", "113-1", "A5", "戊", "E", 0, "通過"),
    Course("B11102001", "113-1", "A6", "己", "F", 2, "抵免"),
    Course("B11102001", "113-1", "A7", "庚", "G", 3, "停修"),
    Course("B11102001", "113-1", "A8", "辛", "H", 3, "B-"),
)


@pytest.mark.parametrize(
    ("rules", "earned", "average"),
    [
        # 59×3 + 90×2 + 86×3 + 88×1 over 9 credits; pass/fail, waived, withdrawn and the
        # letter grade (no score configured) are not averaged; B- passes (C- and up).
        (TranscriptRules(), 11, Decimal(703) / 9),
        (TranscriptRules(average="simple"), 11, Decimal(323) / 4),
        (TranscriptRules(average_includes_failed=False), 11, Decimal(526) / 6),
        (TranscriptRules(pass_bachelor=87, letter_pass_bachelor="B"), 5, Decimal(703) / 9),
        (TranscriptRules(letter_scores={"B-": 70}), 11, Decimal(703 + 210) / 12),
    ],
)
def test_credits_and_averages_follow_the_schools_rules(
    rules: TranscriptRules, earned: int, average: Decimal
) -> None:
    result = totals(_ROWS, "bachelor", rules)
    assert result.earned == earned
    assert result.average == average
    assert result.average_text(rules) == str(average.quantize(Decimal("0.01"), "ROUND_HALF_UP"))


def test_a_term_with_nothing_to_average_prints_a_dash() -> None:
    result = totals(_ROWS[4:7], "master", TranscriptRules())
    assert (result.earned, result.average, result.average_text(TranscriptRules())) == (2, None, "—")


def test_transcript_rules_are_validated_by_name() -> None:
    with pytest.raises(ConfigurationError, match="average must be one of"):
        TranscriptRules.from_dict({"average": "median"})
    with pytest.raises(ConfigurationError, match="pass_bachelor"):
        TranscriptRules.from_dict({"pass_bachelor": 160})
    with pytest.raises(ConfigurationError, match="curve is not a transcript rule"):
        TranscriptRules.from_dict({"curve": True})
    with pytest.raises(ConfigurationError, match="letter_scores"):
        TranscriptRules.from_dict({"letter_scores": {"Q": 3}})
    assert TranscriptRules.from_dict(TranscriptRules(decimals=1).to_dict()).decimals == 1


# --- school settings ----------------------------------------------------------------------


def test_school_settings_round_trip_and_old_configs_still_load() -> None:
    assert School.from_dict(DEMO_SCHOOL.to_dict()) == DEMO_SCHOOL
    old = {
        k: v
        for k, v in DEMO_SCHOOL.to_dict().items()
        if k
        in (
            "code",
            "name_zh",
            "name_en",
            "president_zh",
            "president_en",
            "registrar_zh",
            "registrar_en",
            "verify_url",
        )
    }
    school = School.from_dict(old)
    assert school.seal_image == "" and school.president_title_zh == "校長"
    assert school.transcript == TranscriptRules()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"certificate_number": "({roc_year})示大字第{name}號"}, "may use"),
        ({"certificate_number": "({roc_year})示大字第號"}, "must use"),
        ({"certificate_number": "{serial"}, "must use"),
        ({"seal_image": "seal.png"}, "absolute path of a PNG or SVG"),
        ({"emblem_image": "/srv/emblem.gif"}, "absolute path of a PNG or SVG"),
        ({"certifier_zh": "陳怡君", "certifier_en": ""}, "go together"),
        ({"president_title_en": " "}, "president_title_en is empty"),
    ],
)
def test_bad_school_settings_are_refused_by_name(change: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(words)) as raised:
        School.from_dict({**DEMO_SCHOOL.to_dict(), **change})
    assert raised.value.zh


def test_an_unreadable_or_wrong_image_is_a_configuration_error(kit: Kit, tmp_path: Path) -> None:
    fake = tmp_path / "seal.png"
    fake.write_bytes(b"GIF89a not a png")
    svg = tmp_path / "emblem.svg"
    svg.write_text("<html>not svg</html>")
    for school, words in (
        (dataclasses.replace(DEMO_SCHOOL, seal_image=str(tmp_path / "none.png")), "cannot be read"),
        (dataclasses.replace(DEMO_SCHOOL, seal_image=str(fake)), "is not a PNG image"),
        (dataclasses.replace(DEMO_SCHOOL, emblem_image=str(svg)), "is not a SVG image"),
    ):
        with pytest.raises(ConfigurationError, match=words) as raised:
            kit.renderer.render(kit.content("diploma_zh", school=school), print_locked=False)
        assert raised.value.zh


# --- PDF/A-3b and the twin, after signing ---------------------------------------------------


@pytest.fixture(scope="module")
def signed_diploma(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signed") / "diploma_zh.pdf"
    path.write_bytes(kit.archival(kit.content("diploma_zh")))
    return path


@pytest.fixture
def opened(signed_diploma: Path) -> Iterator[pikepdf.Pdf]:
    with pikepdf.open(signed_diploma) as pdf:
        yield pdf


def test_signed_document_is_still_pdfa_3b(opened: pikepdf.Pdf) -> None:
    """What veraPDF would look at first, checked with pikepdf after the signature."""
    assert not opened.is_encrypted
    assert opened.pdf_version == "1.7"
    meta = opened.open_metadata()
    assert meta.pdfa_status == "3B"
    (intent,) = list(opened.Root.OutputIntents)
    assert intent.S == "/GTS_PDFA1"
    assert intent.DestOutputProfile.N == 3
    assert intent.DestOutputProfile.read_bytes()[36:40] == b"acsp"  # an ICC profile
    # The information dictionary and the XMP agree, as PDF/A requires.
    info = opened.docinfo
    assert meta["dc:title"] == str(info.Title) == "Chinese diploma DEMO-DZ-2026-000123"
    assert meta["dc:description"] == str(info.Subject)
    assert meta["dc:creator"] == [str(info.Author)]
    assert meta["xmp:CreatorTool"] == str(info.Creator)
    assert meta["pdf:Producer"] == str(info.Producer)
    assert meta["xmp:CreateDate"] == "2026-07-01T12:00:00+08:00"
    assert str(info.CreationDate) == "D:20260701120000+08'00'"
    # Every font is embedded, as a font program.
    fonts = 0
    for page in opened.pages:
        for font in page.Resources.Font.values():
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.FontDescriptor
                assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
                fonts += 1
    assert fonts >= 2
    # The signature widget is printable and invisible by size, not by a hidden flag.
    (widget,) = [a for a in opened.pages[0].Annots if a.Subtype == "/Widget"]
    assert int(widget.F) & 4 and not int(widget.F) & 2
    assert [float(v) for v in widget.Rect] == [0, 0, 0, 0]


def test_twin_is_an_associated_file_of_the_document(opened: pikepdf.Pdf) -> None:
    (spec,) = list(opened.Root.AF)
    assert spec.AFRelationship == "/Alternative"
    assert str(spec.F) == str(spec.UF) == FILE_NAME
    stream = spec.EF.F
    assert stream.Type == "/EmbeddedFile"
    assert stream.Subtype == "/" + MEDIA_TYPE
    assert str(stream.Params.ModDate) == "D:20260701120000+08'00'"
    assert stream.Params.Size == len(stream.read_bytes())
    # The same file spec is listed among the document's embedded files.
    names = list(opened.Root.Names.EmbeddedFiles.Names)
    assert str(names[0]) == FILE_NAME and names[1].objgen == spec.objgen


def test_qpdf_and_pdfsig_accept_the_signed_archival_document(
    kit: Kit, signed_diploma: Path, tmp_path: Path
) -> None:
    check = subprocess.run(["qpdf", "--check", str(signed_diploma)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    db = nss_db(tmp_path, kit.home / "keys" / "root.pem")
    out = run("pdfsig", "-nssdir", f"sql:{db}", str(signed_diploma), check=False)
    assert "Signature is Valid" in out
    assert "Certificate is Trusted" in out
    assert "Total document signed" in out  # the twin inside included


def test_twin_verifies_on_its_own_with_the_schools_key(kit: Kit, opened: pikepdf.Pdf) -> None:
    token = twin_of(opened)
    header, _ = jws_parts(token)
    assert header["typ"] == "vc+jwt" and header["alg"] == "ES256"
    x5c = header["x5c"]
    assert isinstance(x5c, list)
    leaf = x509.load_der_x509_certificate(base64.b64decode(x5c[0]))
    assert leaf == kit.identity.cert  # the certificate that signed the PDF
    key = ECKey.import_key(leaf.public_key())  # type: ignore[arg-type]
    vc = json.loads(jws.deserialize_compact(token, key, registry=registry()).payload)
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["iss"] == vc["issuer"]["id"] == DEMO_SCHOOL.verify_url
    subject = vc["credentialSubject"]
    achievement = subject["achievement"]
    assert achievement["achievementType"] == "BachelorDegree"
    assert achievement["name"] == kit.graduates[HOLDER].degree_en
    assert vc["validFrom"] == "2026-07-01T12:00:00+08:00"
    assert subject["activityEndDate"].startswith(kit.graduates[HOLDER].graduation_date)


def test_twin_says_nothing_the_document_does_not_print(kit: Kit) -> None:
    g = kit.graduates[HOLDER]
    for code, shown, hidden in (
        ("diploma_zh", {g.name_zh}, {g.name_en, g.student_id}),
        ("diploma_en", {g.name_en}, {g.name_zh, g.student_id}),
        ("transcript", {g.name_zh, g.name_en, g.student_id}, set()),
    ):
        vc = credential(kit.content(code))
        names = {i["identityHash"] for i in vc["credentialSubject"]["identifier"]}
        assert names == shown, code
        flat = json.dumps(vc, ensure_ascii=False)
        for value in hidden | {g.birth_date, g.school_email, g.permanent_email}:
            assert value not in flat, (code, value)
    assert credential(kit.content("transcript"))["credentialSubject"]["creditsEarned"] > 0


def test_a_twin_altered_or_signed_by_another_key_does_not_verify(kit: Kit) -> None:
    token = kit.twins.sign(kit.content("diploma_en"))
    header, _, signature = token.split(b".")
    claims = jws_parts(token)[1]
    claims["credentialSubject"]["achievement"]["name"] = "Doctor of Medicine"  # type: ignore[index]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    key = ECKey.import_key(kit.identity.cert.public_key())  # type: ignore[arg-type]
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(header + b"." + forged + b"." + signature, key, registry=registry())
    other = ECKey.generate_key("P-256")
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(token, other, registry=registry())


def test_print_locked_documents_are_not_archival_and_carry_no_twin(
    kit: Kit, tmp_path: Path
) -> None:
    content = kit.content("transcript")
    with pytest.raises(RenderError, match="print-locked document cannot carry"):
        kit.renderer.render(content, print_locked=True, attachment=kit.twins.attachment(content))
    path = tmp_path / "locked.pdf"
    path.write_bytes(kit.sealer.seal(kit.renderer.render(content, print_locked=True)))
    with pikepdf.open(path) as pdf:
        assert pdf.is_encrypted
        assert "/AF" not in pdf.Root and "/OutputIntents" not in pdf.Root


def test_archival_rendering_is_deterministic(kit: Kit) -> None:
    content = kit.content("diploma_en")
    twin = kit.twins.attachment(content)
    first = kit.renderer.render(content, print_locked=False, attachment=twin)
    assert kit.renderer.render(content, print_locked=False, attachment=twin) == first
    der = kit.identity.cert.public_bytes(Encoding.DER)
    assert der  # the twin's chain is the school's: checked above against the PDF's signer


def test_images_reused_across_documents_write_the_bytes_fpdf2_writes(kit: Kit) -> None:
    """The seal drawn, the emblem and QR code encoded once per renderer (``ImageStore``) give
    the bytes fpdf2 gives drawing and encoding them for each document: a fresh renderer's
    first document (fpdf2 does it all) equals the same document from a renderer that has
    reused them many times, for every document type."""
    att = kit.twins.attachment(kit.content("diploma_en"))
    for code in sorted(DOCUMENT_TYPES):
        content = kit.content(code)
        reused = kit.renderer.render(content, print_locked=False, attachment=att)
        assert Renderer().render(content, print_locked=False, attachment=att) == reused


def test_an_svg_seal_with_a_gradient_is_drawn_by_fpdf2_each_time(kit: Kit, tmp_path: Path) -> None:
    """A drawing that names a pattern cannot be replayed into another document: it is not
    kept, and every document still has its seal, byte for byte as fpdf2 draws it."""
    seal = tmp_path / "gradient.svg"
    seal.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        '<defs><linearGradient id="g" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="100"'
        ' y2="0"><stop offset="0" stop-color="#b22222"/><stop offset="1" stop-color="#fff"/>'
        '</linearGradient></defs><circle cx="50" cy="50" r="45" fill="url(#g)"/></svg>',
        "utf-8",
    )
    school = dataclasses.replace(DEMO_SCHOOL, seal_image=str(seal))
    content = kit.content("diploma_zh", school=school)
    renderer = Renderer()
    first = renderer.render(content, print_locked=False)
    assert renderer.render(content, print_locked=False) == first
    assert Renderer().render(content, print_locked=False) == first
    with pikepdf.open(io.BytesIO(first)) as pdf:
        assert "/Pattern" in pdf.pages[0].Resources


# --- the verifier reads the twin ------------------------------------------------------------


def test_verifier_reads_and_checks_the_twin_beside_the_verdict(
    kit: Kit, signed_diploma: Path
) -> None:
    assert (verifier_twin.FILE_NAME, verifier_twin.MEDIA_TYPE) == (FILE_NAME, MEDIA_TYPE)
    twin = verifier_twin.read_twin(signed_diploma.read_bytes())
    assert twin is not None and twin.verified
    assert verifier_twin.scan_twin(signed_diploma.read_bytes()) == twin
    shown = twin.to_dict()
    g = kit.graduates[HOLDER]
    assert shown["achievement"] == g.degree_en
    assert shown["achievement_type"] == "BachelorDegree"
    assert shown["holder"] == [g.name_zh]
    assert shown["issuer"] == DEMO_SCHOOL.name_en
    assert shown["valid_from"] == "2026-07-01T12:00:00+08:00"


def test_verifier_does_not_vouch_for_a_twin_signed_by_another_key(kit: Kit, tmp_path: Path) -> None:
    """A twin whose chain is not the PDF signer's (here: another authority's key) is shown as
    not verified; a document without a twin shows none."""
    other_home = tmp_path / "other"
    init_authority(other_home, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30))
    other = TwinSigner(load_identity(other_home / "keys", "signing", PASSPHRASE))
    content = kit.content("diploma_en")
    pdf = kit.sealer.seal(
        kit.renderer.render(content, print_locked=False, attachment=other.attachment(content))
    )
    twin = verifier_twin.read_twin(pdf)
    assert twin is not None and not twin.verified
    assert verifier_twin.scan_twin(pdf) == twin  # the listed-file scan judges it the same
    locked = kit.sealer.seal(kit.renderer.render(kit.content("transcript"), print_locked=True))
    assert verifier_twin.read_twin(locked) is None
    assert verifier_twin.scan_twin(locked) is None
    assert verifier_twin.read_twin(b"%PDF-1.7 not really") is None
    assert verifier_twin.scan_twin(b"%PDF-1.7 not really") is None
