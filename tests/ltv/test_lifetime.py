"""Documents that verify for a lifetime: the root's CRL in the validation data, archival
timestamps extended after issuance, an extended copy answered as its issued entry (and every
other incremental change still refused), and AdES validation 20 and 50 years on."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from authority.keys import crl_url, load_identity
from authority.ltv import LtvServices, extend_timestamp, extensions, load_signing_settings
from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, nss_db
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at
from tests.verifier.conftest import verifier_config
from verifier.config import VerifierConfig
from verifier.counter import Counter
from verifier.engine import Limits, Verifier, build_verifier
from verifier.ltv import long_term_check
from verifier.status import IssuerTrust

YEAR = dt.timedelta(days=365)


def _issue(home: Path, student: str, now: dt.datetime = NOW) -> tuple[bytes, str]:
    with Authority(home) as auth:
        auth.record_collection(student, COLLECTED, doc_type="diploma_zh", now=now, actor=ACTOR)
        report = auth.issue(
            [IssueRequest("diploma_zh", student)],
            now=now,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        assert not report.failed, report.failed
        row = report.issued[0]
        return (home / row.path).read_bytes(), row.doc_id


@pytest.fixture(scope="module")
def docs(ltv_home: Path, pki: LivePki) -> dict[str, tuple[bytes, str]]:
    with Authority(ltv_home) as auth:
        students = auth.registry.student_ids()[10:13]
    out = {}
    for profile, student in zip(("B-T", "B-LT", "B-LTA"), students, strict=True):
        configure(ltv_home, pki, profile)
        out[profile] = _issue(ltv_home, student)
    return out


@pytest.fixture(scope="module")
def published(ltv_home: Path, docs: dict[str, tuple[bytes, str]]) -> Path:
    out = ltv_home.parent / "published"
    with Authority(ltv_home) as auth:
        auth.publish(out, PASSPHRASE, now=NOW, actor=ACTOR)
    return out


def _engine(home: Path, published: Path, tmp: Path) -> Verifier:
    cfg = VerifierConfig.from_dict(
        verifier_config(type("I", (), {"home": home, "published": published})(), tmp)  # type: ignore[arg-type]
    )
    trust = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source)
        for i in cfg.issuers
    ]
    return build_verifier(trust, Counter(cfg.counts_db), Limits())


def _services(home: Path) -> LtvServices:
    identity = load_identity(home / "keys", "signing", PASSPHRASE)
    return LtvServices.for_chain(home, load_signing_settings(home), identity.chain)


def _roots(home: Path, pki: LivePki) -> list[asn1_x509.Certificate]:
    own = pem.unarmor((home / "keys" / "root.pem").read_bytes())[2]
    tsa = pem.unarmor(pki.pem("root"))[2]
    return [asn1_x509.Certificate.load(own), asn1_x509.Certificate.load(tsa)]


def test_the_roots_crl_is_in_the_validation_data(
    docs: dict[str, tuple[bytes, str]], ltv_home: Path, published: Path
) -> None:
    """The signing certificate names the CRL under the school's site; publish signs it, and a
    B-LT document carries it in its DSS, so no one needs that URL to answer decades on."""
    pdf = docs["B-LT"][0]
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    dss = DocumentSecurityStore.read_dss(reader)
    own_root = pem.unarmor((ltv_home / "keys" / "root.pem").read_bytes())[2]
    issuer = asn1_x509.Certificate.load(own_root).subject
    crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss.crls]
    assert any(c["tbs_cert_list"]["issuer"] == issuer for c in crls)
    signer = reader.embedded_signatures[0].signer_cert
    points = signer.crl_distribution_points_value.native
    with Authority(ltv_home) as auth:
        assert points[0]["distribution_point"] == [crl_url(auth.school)]
    published_crl = asn1_crl.CertificateList.load((published / "certs" / "root.crl").read_bytes())
    assert published_crl["tbs_cert_list"]["issuer"] == issuer


@pytest.fixture(scope="module")
def extended(
    ltv_home: Path, pki: LivePki, docs: dict[str, tuple[bytes, str]], published: Path
) -> tuple[bytes, str]:
    """``extend-timestamps`` with a date past the TSA certificate's expiry: every B-LTA
    document gets a new copy; the issued files stay as they were."""
    before = {p: (ltv_home / "documents" / f"{d[1]}.pdf").read_bytes() for p, d in docs.items()}
    with Authority(ltv_home) as auth:
        made = auth.extend_timestamps(
            now=NOW,
            before=dt.datetime(2201, 1, 1, tzinfo=dt.UTC),
            actor=ACTOR,
            services=_services(ltv_home),
        )
        assert docs["B-LTA"][1] in {m.doc_id for m in made}
        assert docs["B-T"][1] not in {m.doc_id for m in made}  # nothing to extend
        # Nothing is due before the TSA certificate expires: a run now extends nothing.
        assert not auth.extend_timestamps(
            now=NOW, before=NOW + YEAR, actor=ACTOR, services=_services(ltv_home)
        )
        recorded = extensions(auth.registry.conn, docs["B-LTA"][1])
    for p, d in docs.items():
        assert (ltv_home / "documents" / f"{d[1]}.pdf").read_bytes() == before[p] == d[0]
    assert len(recorded) == 1
    copy = (ltv_home / recorded[0].path).read_bytes()
    assert copy.startswith(docs["B-LTA"][0]) and len(copy) > len(docs["B-LTA"][0])
    return copy, docs["B-LTA"][1]


def test_an_extended_copy_verifies_as_its_issued_entry(
    ltv_home: Path,
    published: Path,
    extended: tuple[bytes, str],
    tmp_path: Path,
    docs: dict[str, tuple[bytes, str]],
) -> None:
    engine = _engine(ltv_home, published, tmp_path)
    issued = engine.verify(docs["B-LTA"][0], NOW)
    assert issued.result == "success", issued.codes
    result = engine.verify(extended[0], NOW)
    assert result.result == "success", (result.codes, result.checks)
    assert result.document is not None and result.document.sha256 == issued.document.sha256  # type: ignore[union-attr]
    mods = next(c for c in result.checks if c.name == "modifications")
    assert (mods.status, mods.detail) == ("passed", "mods_ltv_added")
    # Extended twice (a B-LT copy once): the issued revision is still found.
    again = extend_timestamp(extended[0], _services(ltv_home))
    assert engine.verify(again, NOW).result == "success"
    lt = extend_timestamp(docs["B-LT"][0], _services(ltv_home))
    assert engine.verify(lt, NOW).result == "success"


def _changed(pdf: bytes) -> bytes:
    """An incremental update that changes what the document says about itself."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    w.root["/Lang"] = generic.TextStringObject("en")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_any_other_incremental_change_is_still_refused(
    ltv_home: Path,
    published: Path,
    extended: tuple[bytes, str],
    tmp_path: Path,
    docs: dict[str, tuple[bytes, str]],
) -> None:
    engine = _engine(ltv_home, published, tmp_path)
    for pdf in (
        _changed(extended[0]),  # a change after the extension
        extend_timestamp(_changed(docs["B-LTA"][0]), _services(ltv_home)),  # hidden under one
        _changed(docs["B-T"][0]),
        extended[0] + b"\n% trailing bytes\n",
    ):
        result = engine.verify(pdf, NOW)
        assert result.result == "failure", [(c.name, c.detail) for c in result.checks]
        assert "modified_after_signing" in result.codes, result.codes


@pytest.mark.parametrize("years", [20, 50])
def test_b_lta_verifies_decades_on_and_b_t_says_what_is_missing(
    ltv_home: Path,
    pki: LivePki,
    docs: dict[str, tuple[bytes, str]],
    extended: tuple[bytes, str],
    years: int,
) -> None:
    """pyhanko's AdES validation with the clock ``years`` ahead: the signing certificate
    (ten years) has expired; the TSA answers as of then for the newest timestamp."""
    when = NOW + years * YEAR
    roots = _roots(ltv_home, pki)
    with answering_at(pki, when):
        backend = RequestsFetcherBackend(per_request_timeout=10)
        lta = long_term_check(docs["B-LTA"][0], roots, when, fetcher_backend=backend)
        ext = long_term_check(extended[0], roots, when, fetcher_backend=backend)
        bt = long_term_check(docs["B-T"][0], roots, when, fetcher_backend=backend)
    assert lta.passed, (lta.indication, lta.detail)
    assert ext.passed, (ext.indication, ext.detail)
    assert lta.signature_time is not None and lta.signature_time < NOW + dt.timedelta(hours=1)
    assert not bt.passed
    en, zh = bt.message
    assert "validation data" in en and "document timestamp" in en
    assert "驗證資料" in zh and "文件時戳" in zh
    assert "timestamp on the signature" not in en  # B-T has that one


@pytest.mark.parametrize("profile", ["B-LT", "B-LTA"])
def test_pdfsig_still_says_valid_and_trusted_for_an_extended_copy(
    ltv_home: Path,
    extended: tuple[bytes, str],
    docs: dict[str, tuple[bytes, str]],
    profile: str,
    tmp_path: Path,
) -> None:
    """pdfsig checks the certification signature; it cannot check document timestamps."""
    pdf = (
        extended[0]
        if profile == "B-LTA"
        else extend_timestamp(docs[profile][0], _services(ltv_home))
    )
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    db = nss_db(tmp_path, ltv_home / "keys" / "root.pem")
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", str(path)], capture_output=True, text=True, check=False
    ).stdout
    first = out.split("Signature #2")[0]
    assert "Signature is Valid" in first
    assert "Certificate is Trusted" in first


def test_extend_timestamps_command(
    ltv_home: Path, extended: tuple[bytes, str], docs: dict[str, tuple[bytes, str]]
) -> None:
    """The command extends the newest copy again (a second copy, the first kept); a bad date is
    a plain answer."""
    from click.testing import CliRunner

    from cli import main

    runner = CliRunner(env={"CERTSEAL_HOME": str(ltv_home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    res = runner.invoke(
        main, ["authority", "--json", "extend-timestamps", "--before", "2201-01-01"]
    )
    assert res.exit_code == 0, res.output
    made = [m for m in json.loads(res.output) if m["doc_id"] == extended[1]]
    assert made and made[0]["path"].endswith(".2.pdf")
    second = (ltv_home / made[0]["path"]).read_bytes()
    assert second.startswith(extended[0])
    bad = runner.invoke(main, ["authority", "extend-timestamps", "--before", "next year"])
    assert bad.exit_code != 0 and "--before" in bad.output
