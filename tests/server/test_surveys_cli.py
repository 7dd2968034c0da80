"""`hailong admin` survey commands in a real process on a real town.db: a template printed, edited
and added with add-survey (strict: the field named, exit 1), the list with its states and answered
counts (JSON and text, Vietnamese and English), the default chosen, a campaign stopped now;
refusals exit 1, what does not exist exits 2, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from helpers import ROOT

from sync.server.core import surveys as rules


def run(db, *args, lang="vi"):
    env = {**os.environ, "LANGUAGE": lang}       # sync/cli_i18n: LANGUAGE first
    return subprocess.run([sys.executable, "-m", "hailong", "admin", "--db", str(db), *args], check=False,
                          capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env=env)


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    db = tmp / "town.db"
    assert run(db, "migrate").returncode == 0
    assert run(db, "import-roster", str(ROOT / "assets" / "demo" / "roster.json")).returncode == 0
    return db


def test_a_template_edited_and_added_then_listed_ended_and_the_default(town, tmp_path):
    out = run(town, "survey-template", "mttq-can-bo")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc == rules.template("mttq-can-bo")
    today = rules.today_vn()
    doc.update({"id": "mttq-cli", "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm", "from": today.isoformat(),
                "to": (today + timedelta(days=10)).isoformat(), "desks": ["quay-2"]})
    bad = dict(doc, questions=[dict(doc["questions"][0], satisfied=[9])])
    (tmp_path / "bad.json").write_text(json.dumps(bad, ensure_ascii=False), "utf-8")
    refused = run(town, "add-survey", str(tmp_path / "bad.json"))
    assert refused.returncode == 1 and "questions[0].satisfied" in refused.stderr
    assert "Traceback" not in refused.stderr
    (tmp_path / "ok.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    added = run(town, "add-survey", str(tmp_path / "ok.json"))
    assert added.returncode == 0 and json.loads(added.stdout) == {"id": "mttq-cli"}, added.stderr

    listed = json.loads(run(town, "surveys", "--json").stdout)
    mine = next(s for s in listed if s["id"] == "mttq-cli")
    assert (mine["state"], mine["desks"], mine["answered"], mine["questions"]) == ("running", ["quay-2"], 0, 4)
    assert listed[0]["id"] == "hl3" and listed[0]["state"] == "default"
    text = run(town, "surveys").stdout
    assert "mttq-cli [đang chạy]" in text and "quay-2" in text and "0 lượt trả lời" in text
    english = run(town, "surveys", lang="en").stdout
    assert "mttq-cli [running]" in english and "Survey of officers' conduct" in english and "0 answers" in english

    campaign_default = run(town, "set-default-survey", "mttq-cli")
    assert campaign_default.returncode == 1 and "mặc định" in campaign_default.stderr
    assert run(town, "set-default-survey", "hl5").returncode == 0
    assert json.loads(run(town, "surveys", "--json").stdout)[0]["id"] == "hl5"

    ended = run(town, "end-survey", "mttq-cli", "--by", "an")
    assert ended.returncode == 0 and today.isoformat() in ended.stdout
    again = run(town, "end-survey", "mttq-cli")
    assert again.returncode == 1 and "đã kết thúc" in again.stderr
    mine = next(s for s in json.loads(run(town, "surveys", "--json").stdout) if s["id"] == "mttq-cli")
    assert mine["state"] == "stopped" and mine["ended_on"] == today.isoformat()


def test_what_does_not_exist_exits_2(town):
    for args in (("survey-template", "nope"), ("set-default-survey", "nope"), ("end-survey", "nope"),
                 ("survey-template", "../../etc/passwd")):
        out = run(town, *args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (args, out.stderr)
    english = run(town, "end-survey", "nope", lang="en")
    assert english.returncode == 2 and "There is no survey nope." in english.stderr
