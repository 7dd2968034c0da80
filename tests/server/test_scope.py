"""Users scoped to a unit: a commune's admin and viewer see and manage their unit only, on every route.

Two communes on one server (a province's): Đồng Tâm (13321, the demo roster, kiosk K1) and
Bí Mật (27280: its own desk, officer, kiosk, a nhũng nhiễu rating with its alert and case, a
letter). Users: ``a-admin`` and ``a-viewer`` of 13321, ``tinh`` of every unit (a province's).
Every route of the app is in ROUTES (test_every_route_is_in_the_table), and each is tried by
commune A's admin against commune B's things: the answer never shows B's names or comments
(inside .xlsx/.docx/.zip answers too), and nothing of B changes. The province user sees both,
with the province's roll-up: by commune, the ranking of communes. The app runs in this
process (Starlette's TestClient), on both engines.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta

import dbtools
import pytest
from helpers import ROOT
from PIL import Image
from starlette.routing import Route
from starlette.testclient import TestClient
from test_alerts_page import Kiosk, csrf_of, sign_in

from sync import evidence
from sync.server.app import create_app
from sync.server.core import admin_ops, letters
from sync.server.core.clock import VN_TZ
from sync.server.core.settings import set_public_base_url

A, B = "13321", "27280"
#: what commune A's users must never read: commune B's names and its citizen's comment
SECRETS = ("Bí Mật", "Chuyện riêng")
#: B's codes: never shown either, unless the request itself named them (a 404 page echoes the id asked)
B_CODES = ("27280", "bimat")
PASSWORD = "mật-khẩu-đủ-dài"


@pytest.fixture
def town(town_db, tmp_path):
    app = create_app(str(town_db), media_dir=tmp_path / "media")
    with app.state.engine.begin() as conn:
        admin_ops.import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "media")
        admin_ops.save_roster_row(conn, "units", {"code": B, "name": "UBND xã Bí Mật"})
        set_public_base_url(conn, B, "https://bimat.example.vn")     # A's admin must not change it
        admin_ops.save_roster_row(conn, "desks", {"id": "quay-bimat", "unit_code": B, "name": "Quầy Bí Mật"})
        admin_ops.save_roster_row(conn, "officers", {"id": "cb-bimat", "name": "Lê Thị Bí Mật",
                                                     "desk_id": "quay-bimat"})
        admin_ops.create_user(conn, "a-admin", "admin", PASSWORD, unit_code=A)
        admin_ops.create_user(conn, "a-viewer", "viewer", PASSWORD, unit_code=A)
        admin_ops.create_user(conn, "b-admin", "admin", PASSWORD, unit_code=B)
        admin_ops.create_user(conn, "tinh", "admin", PASSWORD)
        app.state.tokens = {u: admin_ops.create_token(conn, u) for u in ("a-viewer", "tinh")}
        ka = admin_ops.enrol_kiosk(conn, "K1", A)
        kb = admin_ops.enrol_kiosk(conn, "KIOSK-BIMAT", B)
    client = TestClient(app, base_url="http://127.0.0.1")
    at = (datetime.now(VN_TZ).replace(microsecond=0) - timedelta(hours=1)).isoformat()
    Kiosk(client, ka, A).send([{"at": at, "reasons": ["nhung_nhieu"], "comment": "Chuyện của xã Đồng Tâm"},
                               {"at": at, "officer": "cb-001", "level": 3}])
    Kiosk(client, kb, B).send([{"at": at, "desk": "quay-bimat", "officer": "cb-bimat", "reasons": ["nhung_nhieu"],
                                "comment": "Chuyện riêng xã Bí Mật"}])
    app.state.db_path = town_db
    with app.state.engine.begin() as conn:
        app.state.b_letter = letters.record_letter(conn, b"docx", "cam_on", "tinh", officer_id="cb-bimat", unit_code=B)
    app.state.b_case = _one(app, "SELECT id FROM cases WHERE officer_id = 'cb-bimat'")
    app.state.b_alert = _one(app, "SELECT id FROM alerts WHERE subject = 'cb-bimat'")
    assert app.state.b_case and app.state.b_alert
    yield app
    app.state.engine.dispose()


def _one(app, sql, *args):
    with dbtools.connect(app.state.db_path) as con:
        row = con.execute(sql, args).fetchone()
    return row[0] if row else None


def _b_state(app) -> dict:
    """Everything of commune B that A's admin might try to change."""
    with dbtools.connect(app.state.db_path) as con:
        q = lambda sql: [tuple(r) for r in con.execute(sql).fetchall()]   # noqa: E731
        return {
            "kiosk": q("SELECT id, revoked, unit_code, token_hash FROM kiosks WHERE id = 'KIOSK-BIMAT'"),
            "alerts": q("SELECT id, resolved_at, acked_by FROM alerts WHERE subject = 'cb-bimat' ORDER BY id"),
            "case": q("SELECT id, status, owner, due_date, closed_at FROM cases WHERE officer_id = 'cb-bimat'"),
            "events": q("SELECT count(*) FROM case_events"),
            "officer": q("SELECT id, name, desk_id, pin_hash, photo, active FROM officers WHERE id = 'cb-bimat'"),
            "desk": q("SELECT id, unit_code, name FROM desks WHERE id = 'quay-bimat'"),
            "unit": q("SELECT code, name FROM units WHERE code = '27280'"),
            "letters": q("SELECT id, sent_at FROM letters_issued ORDER BY id"),
            "settings": q("SELECT key, value FROM settings WHERE key NOT IN ('webhooks', 'public_base_urls') "
                          "ORDER BY key"),
            "webhook": [json.loads(v).get(B) for v, in q("SELECT value FROM settings WHERE key = 'webhooks'")
                        if json.loads(v).get(B)],
            "public_url": [json.loads(v).get(B) for v, in q("SELECT value FROM settings WHERE key = 'public_base_urls'")
                           if json.loads(v).get(B)],
            "procedures": q("SELECT code, name FROM procedures ORDER BY code"),
        }


def visible(r) -> str:
    """What the answer shows: its text, or the text of every member of a .xlsx/.docx/.zip."""
    if r.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    return r.text


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, "PNG")
    return buf.getvalue()


# (method, route template) -> [(path, form, expected statuses)], as commune A's admin tries commune B's
# things; a form value "@file:NAME" sends NAME's bytes as the upload "file". None: not a user's route
# (a kiosk's sync API, public documents, signing in and out), said why.
def routes(app) -> dict:
    case, alert, letter = app.state.b_case, app.state.b_alert, app.state.b_letter
    group = f"9999|nhung_nhieu|{datetime.now(VN_TZ):%Y-%m}|cb-bimat"
    ok, refused, gone = (200, 303), (403,), (404,)
    return {
        ("GET", "/"): [("/", {}, ok)],
        ("GET", "/admin"): [("/admin", {}, ok), (f"/admin?unit={B}", {}, refused),
                            ("/admin?desk=quay-bimat", {}, ok), ("/admin?officer=cb-bimat", {}, ok)],
        ("GET", "/admin/officers/{officer_id}"): [("/admin/officers/cb-bimat", {}, gone)],
        ("GET", "/admin/comments"): [("/admin/comments", {}, ok), (f"/admin/comments?unit={B}", {}, refused)],
        ("GET", "/admin/export"): [("/admin/export?fmt=csv", {}, ok), ("/admin/export?fmt=xlsx", {}, ok),
                                   ("/admin/export?fmt=docx", {}, ok),
                                   (f"/admin/export?fmt=csv&unit={B}", {}, refused)],
        ("GET", "/admin/alerts"): [("/admin/alerts", {}, ok), ("/admin/alerts?state=all&subject=cb-bimat", {}, ok)],
        ("POST", "/admin/alerts/ack"): [("/admin/alerts/ack", {"group": group, "note": "x"}, gone)],
        ("POST", "/admin/alerts/{alert_id}/ack"): [(f"/admin/alerts/{alert}/ack", {"note": "x"}, gone)],
        ("POST", "/admin/alerts/rules"): [("/admin/alerts/rules", {"officer_rate_below": "10", "officer_min_ratings": "1",
                                                                   "kiosk_silent_hours": "1"}, refused)],
        ("GET", "/admin/kiosks"): [("/admin/kiosks", {}, ok), ("/admin/kiosks?revoke=KIOSK-BIMAT", {}, ok),
                                   ("/admin/kiosks?bundle=KIOSK-BIMAT", {}, ok)],
        ("POST", "/admin/kiosks/webhooks"): [("/admin/kiosks/webhooks", {f"webhook:{B}": "https://x.example/h"}, ok)],
        ("POST", "/admin/kiosks/public-url"): [("/admin/kiosks/public-url", {f"public_url:{B}": "https://x.example"}, ok)],
        ("POST", "/admin/kiosks/enrol"): [("/admin/kiosks/enrol", {"kiosk_id": "K-LA", "unit_code": B}, refused)],
        ("POST", "/admin/kiosks/{kiosk_id}/revoke"): [("/admin/kiosks/KIOSK-BIMAT/revoke", {}, gone)],
        ("POST", "/admin/kiosks/{kiosk_id}/bundle"): [
            ("/admin/kiosks/KIOSK-BIMAT/bundle", {"desk_id": "quay-bimat", "server_url": "http://127.0.0.1:9"}, gone)],
        ("GET", "/admin/roster"): [("/admin/roster", {}, ok)],
        ("POST", "/admin/roster/{kind}"): [
            ("/admin/roster/units", {"code": B, "name": "Đổi tên"}, refused),
            ("/admin/roster/desks", {"id": "quay-bimat", "unit_code": A, "name": "Lấy quầy"}, refused),
            ("/admin/roster/officers", {"id": "cb-bimat", "name": "Đổi", "desk_id": "quay-1"}, refused),
            ("/admin/roster/officers", {"id": "cb-moi", "name": "Mới", "desk_id": "quay-bimat"}, refused),
            ("/admin/roster/procedures", {"code": "9.999", "name": "Thủ tục mới"}, refused)],
        ("POST", "/admin/officers/{officer_id}/pin"): [("/admin/officers/cb-bimat/pin", {"pin": "482913"}, gone)],
        ("POST", "/admin/officers/{officer_id}/active"): [("/admin/officers/cb-bimat/active", {"active": "0"}, gone)],
        ("POST", "/admin/officers/{officer_id}/photo"): [("/admin/officers/cb-bimat/photo", {"file": "@file:a.png"},
                                                          gone)],
        ("POST", "/admin/import-roster"): [("/admin/import-roster", {"file": "@file:roster.csv"}, refused)],
        ("POST", "/admin/settings/report"): [("/admin/settings/report", {"body": "UBND GIẢ"}, refused)],
        ("GET", "/admin/letters"): [("/admin/letters", {}, ok)],
        ("POST", "/admin/letters"): None,     # typed words only: tried in test_a_letter_is_counted_under_the_unit
        ("POST", "/admin/letters/{letter_id}/sent"): [(f"/admin/letters/{letter}/sent", {}, gone)],
        ("GET", "/admin/cases"): [("/admin/cases", {}, ok), ("/admin/cases?status=all&officer=cb-bimat", {}, ok)],
        ("GET", "/admin/cases/new"): [("/admin/cases/new?officer=cb-bimat", {}, ok)],
        ("POST", "/admin/cases/new"): [("/admin/cases/new", {"officer": "cb-bimat", "title": "Xem"}, refused),
                                       ("/admin/cases/new", {"kiosk": "KIOSK-BIMAT", "title": "Xem"}, refused),
                                       ("/admin/cases/new", {"officer": "cb-001", "title": "Xem", "owner": "b-admin"},
                                        refused)],
        ("GET", "/admin/cases/{case_id}"): [(f"/admin/cases/{case}", {}, gone)],
        **{("POST", f"/admin/cases/{{case_id}}/{op}"): [(f"/admin/cases/{case}/{op}", form, gone)] for op, form in (
            ("action", {"action": "other", "text": "x"}), ("close", {"found_cause": "x", "outcome": "y"}),
            ("reopen", {"text": "x"}), ("assign", {"owner": "a-admin"}), ("status", {"status": "in_progress"}),
            ("due", {"due_date": "2030-01-01"}))},
        ("GET", "/admin/cases/{case_id}/letter"): [(f"/admin/cases/{case}/letter?dossier=x", {}, gone)],
        ("POST", "/admin/cases/{case_id}/letter"): [(f"/admin/cases/{case}/letter", {"dossier": "x"}, gone)],
        ("POST", "/admin/cases/{case_id}/letters/{letter_id}/sent"): [
            (f"/admin/cases/{case}/letters/{letter}/sent", {}, gone)],
        ("GET", "/admin/evidence"): [("/admin/evidence", {}, ok)],
        ("POST", "/admin/evidence"): [("/admin/evidence", {"period": str(datetime.now(VN_TZ).year)}, ok)],
        ("GET", "/admin/scores"): [("/admin/scores", {}, ok), (f"/admin/scores?unit={B}", {}, refused)],
        ("POST", "/admin/scores/criteria"): [("/admin/scores/criteria", {"reset": "1"}, refused)],
        ("GET", "/admin/scores/export"): [("/admin/scores/export?fmt=xlsx", {}, ok),
                                          ("/admin/scores/export?fmt=docx", {}, ok)],
        ("GET", "/admin/surveys"): [("/admin/surveys", {}, ok)],
        ("POST", "/admin/surveys/default"): [("/admin/surveys/default", {"survey": "hl5"}, refused)],
        ("POST", "/admin/surveys/{sid}/end"): [("/admin/surveys/hl3/end", {"confirm": "1"}, refused)],
        ("GET", "/admin/surveys/new"): [("/admin/surveys/new", {}, refused)],
        ("GET", "/admin/surveys/{sid}/edit"): [("/admin/surveys/hl3/edit", {}, refused)],
        ("POST", "/admin/surveys/new"): [("/admin/surveys/new", {"id": "la", "action": "save"}, refused)],
        ("GET", "/admin/surveys/{sid}.json"): [("/admin/surveys/hl3.json", {}, ok)],
        ("GET", "/admin/surveys/{sid}/preview"): [("/admin/surveys/hl3/preview", {}, ok)],
        ("GET", "/admin/surveys/{sid}"): [("/admin/surveys/hl3", {}, ok)],
        ("GET", "/admin/surveys/{survey_id}/report.docx"): [("/admin/surveys/hl3/report.docx", {}, ok)],
        # the admin API, with commune A's viewer's token
        ("GET", "/api/v1/ratings"): [("/api/v1/ratings", {}, ok)],
        ("GET", "/api/v1/ratings.csv"): [("/api/v1/ratings.csv", {}, ok)],
        ("GET", "/api/v1/alerts"): [("/api/v1/alerts?include_resolved=true", {}, ok)],
        ("GET", "/api/v1/names"): [("/api/v1/names", {}, ok)],
        ("GET", "/api/v1/reports/dashboard"): [("/api/v1/reports/dashboard?period=2026", {}, ok),
                                               (f"/api/v1/reports/dashboard?unit={B}", {}, refused)],
        ("GET", "/api/v1/cases"): [("/api/v1/cases", {}, ok)],
        # not a user's: a kiosk's own token names its own unit (tests/server/test_server_api.py)
        ("POST", "/api/v1/ratings:batch"): None, ("GET", "/api/v1/kiosks/{kiosk_id}/config"): None,
        ("GET", "/api/v1/photos/{officer_id}"): None, ("POST", "/api/v1/kiosks/{kiosk_id}/heartbeat"): None,
        # public, or signing in and out: no unit's data
        ("GET", "/login"): None, ("POST", "/login"): None, ("POST", "/logout"): None, ("GET", "/lang/{code}"): None,
        ("GET", "/openapi.json"): None, ("GET", "/docs"): None, ("GET", "/docs/oauth2-redirect"): None,
        ("GET", "/redoc"): None, ("GET", "/healthz"): None,
        # the public log (issue 15): public, no sign-in, no unit's data (tests/server/test_public_log.py)
        ("GET", "/api/v1/log/checkpoint"): None, ("GET", "/api/v1/log/key"): None, ("GET", "/api/v1/log/proof"): None,
        ("GET", "/api/v1/log/leaf"): None, ("GET", "/api/v1/log/consistency"): None,
        # the phone page: a receipt names its unit; anyone holding it may rate (tests/server/test_phone_page.py)
        ("GET", "/r/{token}"): None, ("POST", "/r/{token}"): None, ("GET", "/r/{token}/photo"): None,
        ("GET", "/log"): None,
    }


def _all_routes(routes_):
    for r in routes_:
        included = getattr(r, "original_router", None)
        if included is not None:
            yield from _all_routes(included.routes)
        elif isinstance(r, Route) or hasattr(r, "methods"):
            for m in sorted((getattr(r, "methods", None) or set()) - {"HEAD"}):
                yield m, r.path


def test_every_route_is_in_the_table(town):
    found = set(_all_routes(town.routes))
    table = set(routes(town))
    assert {("GET", "/admin"), ("POST", "/admin/cases/{case_id}/close"), ("GET", "/api/v1/ratings")} <= found
    assert not found - table, f"routes this test does not try: {sorted(found - table)}"
    assert not table - found, f"routes in the table that the app no longer has: {sorted(table - found)}"


def _files(name: str):
    if name == "a.png":
        return {"file": ("a.png", png(), "image/png")}
    return {"file": ("roster.csv", "kind,id,name,desk_id\nofficers,cb-bimat,Tên Mới,quay-1\n".encode(), "text/csv")}


def test_a_communes_admin_never_sees_nor_changes_another_commune_on_any_route(town):
    before = _b_state(town)
    s = sign_in(town, "a-admin", PASSWORD)
    api = TestClient(town, base_url="http://127.0.0.1")
    api.headers["Authorization"] = f"Bearer {town.state.tokens['a-viewer']}"
    tried = 0
    for (method, template), tries in routes(town).items():
        for path, form, expected in tries or ():
            tried += 1
            who = api if path.startswith("/api/") else s
            if method == "GET":
                r = who.get(path, follow_redirects=False)
            else:
                page = s.get("/admin/roster")
                data = {"csrf": csrf_of(page.text), **{k: v for k, v in form.items() if not str(v).startswith("@")}}
                upload = next((_files(v[6:]) for v in form.values() if str(v).startswith("@file:")), None)
                r = s.post(path, data=data, files=upload, follow_redirects=False)
            assert r.status_code in expected, (method, path, r.status_code, r.text[:300])
            shown = visible(r)
            leaks = [m for m in SECRETS if m in shown]
            leaks += [m for m in B_CODES if m in shown and m not in path.lower() + json.dumps(form).lower()]
            assert not leaks, (method, path, leaks, shown[:500])
            if r.status_code == 403 and not path.startswith("/api/"):
                assert "UBND xã Đồng Tâm (13321)" in r.text, (path, r.text[:500])    # says which unit is theirs
    assert tried > 70
    assert _b_state(town) == before


def test_a_refusal_says_which_unit_is_theirs_in_both_languages(town):
    s = sign_in(town, "a-viewer", PASSWORD)
    r = s.get(f"/admin?unit={B}")
    assert r.status_code == 403
    assert "Tài khoản của bạn chỉ xem và quản lý được đơn vị UBND xã Đồng Tâm (13321)." in r.text
    assert "đơn vị 13321" in s.get("/admin").text           # the header says whose figures these are
    a = sign_in(town, "a-admin", PASSWORD)
    a.get("/lang/en?next=/admin")
    r = a.post("/admin/scores/criteria", data={"csrf": csrf_of(a.get("/admin/scores").text), "reset": "1"})
    assert r.status_code == 403
    assert "Only a province user (one who sees every unit) may do this: your account belongs to " \
           "UBND xã Đồng Tâm (13321)." in r.text
    r = a.get(f"/admin/scores?unit={B}")
    assert r.status_code == 403 and "Your account sees and manages UBND xã Đồng Tâm (13321) only." in r.text


def test_the_evidence_pack_of_a_commune_holds_its_unit_only_and_verifies(town, tmp_path):
    s = sign_in(town, "a-admin", PASSWORD)
    year = str(datetime.now(VN_TZ).year)
    r = s.post("/admin/evidence", data={"csrf": csrf_of(s.get("/admin/evidence").text), "period": year})
    assert r.status_code == 200
    assert "13321" in r.headers["content-disposition"]
    pack = tmp_path / "pack.zip"
    pack.write_bytes(r.content)
    summary = evidence.verify(pack)
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read(evidence.MANIFEST))
        lines = zf.read(evidence.RATINGS_JSONL).decode().splitlines()
    assert manifest["unit"] == A and manifest["ratings"] == 2
    assert {json.loads(line)["unit_code"] for line in lines} == {A}
    assert summary is not None
    # the province's pack holds both communes
    p = sign_in(town, "tinh", PASSWORD)
    r = p.post("/admin/evidence", data={"csrf": csrf_of(p.get("/admin/evidence").text), "period": year})
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert json.loads(zf.read(evidence.MANIFEST))["ratings"] == 3 and "unit" not in json.loads(
            zf.read(evidence.MANIFEST))


def test_a_communes_pull_and_figures_are_its_own_and_the_provinces_are_everything(town):
    def get(token, path):
        r = TestClient(town, base_url="http://127.0.0.1").get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    mine = get(town.state.tokens["a-viewer"], "/api/v1/ratings")["ratings"]
    every = get(town.state.tokens["tinh"], "/api/v1/ratings")["ratings"]
    assert [x["unit_code"] for x in mine] == [A, A]
    assert sorted(x["unit_code"] for x in every) == [A, A, B]
    assert get(town.state.tokens["a-viewer"], "/api/v1/reports/dashboard?period=2026")["overall"]["total"] == 2
    year = datetime.now(VN_TZ).year
    by_unit = get(town.state.tokens["tinh"], f"/api/v1/reports/dashboard?period={year}")["by"]["unit"]
    assert sorted(f["key"] for f in by_unit) == [A, B]
    assert list(get(town.state.tokens["a-viewer"], "/api/v1/names")["units"]) == [A]
    assert [a["kiosk_id"] for a in get(town.state.tokens["a-viewer"], "/api/v1/alerts")["alerts"]] == ["K1"]
    assert [c["officer_id"] for c in get(town.state.tokens["a-viewer"], "/api/v1/cases")["cases"]] == ["cb-002"]


def test_the_province_sees_every_commune_with_its_roll_up_and_ranking(town):
    p = sign_in(town, "tinh", PASSWORD)
    year = datetime.now(VN_TZ).year
    dash = p.get(f"/admin?period={year}").text
    assert "UBND xã Bí Mật" in dash and "UBND xã Đồng Tâm" in dash          # the roll-up by commune
    scores = p.get(f"/admin/scores?period={year}").text
    assert "UBND xã Bí Mật" in scores and "UBND xã Đồng Tâm" in scores      # the ranking of communes
    for page in ("/admin/alerts", "/admin/cases", "/admin/kiosks", "/admin/roster"):
        assert "Bí Mật" in p.get(page).text or "bimat" in p.get(page).text.lower(), page
    # commune A's viewer: their commune in the same pages, the other never
    a = sign_in(town, "a-viewer", PASSWORD)
    dash = a.get(f"/admin?period={year}").text
    assert "UBND xã Đồng Tâm" in dash and "Bí Mật" not in dash
    assert re.search(r"Nguyễn Thị Hồng Nhung|Trần Văn Đức", dash)


def test_a_communes_admin_manages_its_own_unit(town):
    s = sign_in(town, "a-admin", PASSWORD)

    def post(path, **form):
        return s.post(path, data={"csrf": csrf_of(s.get("/admin/roster").text), **form}, follow_redirects=False)

    assert post("/admin/roster/desks", id="quay-3", unit_code=A, name="Quầy số 3").status_code == 303
    assert post("/admin/roster/officers", id="cb-009", name="Đỗ Văn Mới", desk_id="quay-3").status_code == 303
    assert post("/admin/roster/units", code=A, name="UBND xã Đồng Tâm", address="Thôn 1").status_code == 303
    r = post("/admin/kiosks/enrol", kiosk_id="K2", unit_code=A)
    assert r.status_code == 200 and "K2" in r.text
    assert post("/admin/kiosks/K2/revoke").status_code == 303
    alert = _one(town, "SELECT id FROM alerts WHERE subject = 'cb-002'")
    assert post(f"/admin/alerts/{alert}/ack", note="Đã kiểm điểm").status_code == 303
    case = _one(town, "SELECT id FROM cases WHERE officer_id = 'cb-002'")
    assert post(f"/admin/cases/{case}/assign", owner="a-admin").status_code == 303
    assert post(f"/admin/cases/{case}/assign", owner="tinh").status_code == 303     # a province user, too
    assert _one(town, "SELECT owner FROM cases WHERE id = ?", case) == "tinh"
    assert "cb-009" in s.get("/admin/roster").text
    # the viewer reads, and is refused writes as before
    v = sign_in(town, "a-viewer", PASSWORD)
    r = v.post("/admin/roster/desks", data={"csrf": csrf_of(v.get("/admin/roster").text), "id": "q", "unit_code": A,
                                            "name": "q"}, follow_redirects=False)
    assert r.status_code == 403


def test_a_letter_is_counted_under_the_unit_of_its_writer(town):
    s = sign_in(town, "a-admin", PASSWORD)
    r = s.post("/admin/letters", data={"csrf": csrf_of(s.get("/admin/letters").text), "kind": "cam_on",
                                       "name": "Bà Lan", "dossier": "H-1", "procedure": "", "officer": "Lê Thị Bí Mật",
                                       "new_date": ""})
    assert r.status_code == 200, re.findall(r'class="error"[^>]*>([^<]+)', r.text)
    row = None
    with dbtools.connect(town.state.db_path) as con:
        row = con.execute("SELECT officer_id, unit_code FROM letters_issued ORDER BY id DESC").fetchone()
    assert tuple(row) == (None, A)        # another commune's officer is not theirs to name
    assert "Bí Mật" not in s.get("/admin/letters").text
