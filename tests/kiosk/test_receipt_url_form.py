"""Issue 15: a kiosk whose unit has a public rating page prints the URL form of the receipt.

A real town server (tests/faultproxy.py ServerThread) holds the unit's public base URL; the kiosk
gets it with its config (the sync agent's GET config, apply_config into kiosk.db meta), prints a
receipt whose QR (read off the rendered image with zxing) is ``<url>/r/<payload>.<sig>``, which
the kiosk's verifier accepts and which the server's own phone page answers, naming the officer.
Without the URL the QR is HL1.… as before.
"""
from __future__ import annotations

import json

import pytest
import requests
import zxingcpp
from click.testing import CliRunner
from faultproxy import ServerThread
from helpers import ARTIFACTS, ROOT
from PIL import Image
from ptys import write_kiosk

from hailong.cli import main
from kiosk import receipts, render
from kiosk.receipts import ReceiptVerifier
from sync import protocol
from sync.agent import SyncAgent, apply_config
from sync.server.core.admin_ops import enrol_kiosk, import_roster
from sync.server.core.settings import receipt_key, set_public_base_url

OFFICER = "cb-001"
OFFICER_NAME = "Nguyễn Thị Hồng Nhung"
DOSSIER = "000.00.21.H31-261203-0042"


@pytest.fixture
def town(tmp_path):
    server = ServerThread(tmp_path / "town" / "town.db", media_dir=tmp_path / "town" / "media")
    with server.engine.begin() as conn:
        server.enrolled = enrol_kiosk(conn, "DT-MC-01", "13321")
        import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "town" / "media")
        server.receipt_key = receipt_key(conn)
    yield server
    server.stop()


def synced_kiosk(tmp_path, town):
    """A kiosk of unit 13321 with no receipt key of its own: key, roster and URL come from the server."""
    (tmp_path / "kiosk").mkdir(exist_ok=True)
    cfg, store = write_kiosk(tmp_path / "kiosk", receipt={"key": ""})
    agent = SyncAgent(store, town.url, town.enrolled["token"], "DT-MC-01", photo_dir=tmp_path / "kiosk" / "photos")
    assert agent.pull_config()
    return cfg, store


def qr_of(image) -> str:
    codes = zxingcpp.read_barcodes(image.convert("L"))
    assert len(codes) == 1
    return codes[0].text


def test_the_unit_url_from_the_server_prints_the_url_form_that_the_phone_page_answers(tmp_path, town):
    with town.engine.begin() as conn:
        set_public_base_url(conn, "13321", town.url + "/")
    cfg, store = synced_kiosk(tmp_path, town)
    try:
        assert json.loads(store.get_meta("server_public_base_url")) == town.url
        issued = receipts.issue(cfg, store, OFFICER, DOSSIER, "1.001193")
        image = receipts.receipt_image(cfg, store, issued)
        assert image.width == 384
        ARTIFACTS.joinpath("receipts").mkdir(parents=True, exist_ok=True)
        render.save_png(image, ARTIFACTS / "receipts" / "receipt_url_form_58mm.png")
        text = qr_of(image)
        assert text == issued.token and text.startswith(f"{town.url}/r/")
        payload_sig = text[len(f"{town.url}/r/"):]
        assert payload_sig.count(".") == 1 and "/" not in payload_sig
        # the paper says a phone can be used, and where
        lines = image.info["text"].splitlines()
        assert render.PHONE_LINE in " ".join(lines) and "127.0.0.1:%d" % town.port in lines
        # the kiosk's scanner accepts it (as it accepts HL1.…), with the key the server sent
        fields, rid = protocol.parse_receipt_token(text, town.receipt_key)
        assert fields["o"] == OFFICER and fields["h"] == DOSSIER and rid == issued.receipt_id
        checked = ReceiptVerifier.from_config(cfg, store).check(text)
        assert checked.ok and checked.officer_id == OFFICER
        # the real server's phone page opens it, naming the officer
        page = requests.get(text, timeout=10)
        assert page.status_code == 200, page.text[:500]
        assert OFFICER_NAME in page.text
    finally:
        store.close()


def test_without_a_url_the_qr_is_hl1_and_a_cleared_url_goes_back_to_it(tmp_path, town):
    cfg, store = synced_kiosk(tmp_path, town)
    try:
        assert store.get_meta("server_public_base_url") == "null"
        issued = receipts.issue(cfg, store, OFFICER, DOSSIER)
        image = receipts.receipt_image(cfg, store, issued)
        assert qr_of(image) == issued.token and issued.token.startswith("HL1.")
        assert render.PHONE_LINE not in image.info["text"]
        # set, then cleared on the server: the next config takes the kiosk back to HL1.…
        with town.engine.begin() as conn:
            set_public_base_url(conn, "13321", "https://danhgia.xa-dong-tam.gov.vn")
        agent = SyncAgent(store, town.url, town.enrolled["token"], "DT-MC-01", photo_dir=tmp_path / "photos")
        assert agent.pull_config()
        assert receipts.issue(cfg, store, OFFICER, DOSSIER).token.startswith("https://danhgia.xa-dong-tam.gov.vn/r/")
        with town.engine.begin() as conn:
            set_public_base_url(conn, "13321", None)
        assert agent.pull_config()
        assert receipts.issue(cfg, store, OFFICER, DOSSIER).token.startswith("HL1.")
    finally:
        store.close()


@pytest.mark.parametrize("held", ["null", json.dumps("javascript:alert(1)"), json.dumps("ftp://x.vn"),
                                  json.dumps("https://x.vn/?a=1"), json.dumps("https://" + "a" * 300 + ".vn"),
                                  "not json at all"])
def test_a_meta_url_a_receipt_cannot_carry_prints_hl1(tmp_path, held):
    cfg, store = write_kiosk(tmp_path)
    try:
        store.set_meta("server_public_base_url", held)
        assert receipts.issue(cfg, store, OFFICER, DOSSIER).token.startswith("HL1.")
    finally:
        store.close()


def test_an_older_server_without_the_key_means_no_url(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    try:
        store.set_meta("server_public_base_url", json.dumps("https://danhgia.example.vn"))
        assert receipts.public_base_url(cfg, store) == "https://danhgia.example.vn"
        apply_config(store, {"roster": {}}, etag=None)
        assert receipts.public_base_url(cfg, store) is None
    finally:
        store.close()


def test_the_longest_url_still_scans_at_58mm(tmp_path):
    """A 200-character base URL (the most the server takes), the longest dossier and procedure codes."""
    base = "https://danhgia.xa-dong-tam.huyen-vinh-tuong.tinh-vinh-phuc.gov.vn/" + "p" * 200
    base = base[:receipts.PUBLIC_URL_MAX]
    cfg, store = write_kiosk(tmp_path)
    try:
        store.set_meta("server_public_base_url", json.dumps(base))
        issued = receipts.issue(cfg, store, OFFICER, "H" * 64, "1.001193", appointment=None)
        image = receipts.receipt_image(cfg, store, issued)
        assert qr_of(image) == issued.token and issued.token.startswith(base + "/r/")
        assert len(issued.token) <= protocol.RECEIPT_TOKEN_MAX
    finally:
        store.close()


def test_receipt_preview_on_the_command_line_prints_the_url_form(tmp_path, town):
    with town.engine.begin() as conn:
        set_public_base_url(conn, "13321", town.url)
    cfg, store = synced_kiosk(tmp_path, town)
    store.close()
    out = tmp_path / "receipt.png"
    result = CliRunner().invoke(main, ["receipt", "preview", "--config", str(cfg.path), "--officer", OFFICER,
                                       "--dossier", DOSSIER, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith(f"{town.url}/r/")
    assert qr_of(Image.open(out)) == token
    assert requests.get(token, timeout=10).status_code == 200
