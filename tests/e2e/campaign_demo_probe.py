"""Run a ``hailong`` command (``demo``, ``kiosk``) with an observer in each kiosk window it opens.

    python tests/e2e/campaign_demo_probe.py PROBE_DIR demo --dir … --port …

The command runs as ``python -m hailong …`` does (hailong.cli.main), with
one extra service in every kiosk app (kiosk.commands.run_kiosk's
``extra_services``, as tests/kiosk_driver.py uses it): four times a second it
writes PROBE_DIR/<kiosk id>.json: the screen shown, the language, every
visible text and where each tappable widget is on the X screen. It only
reads; taps come from outside, as real X pointer events (XTest). The
``hailong kiosk`` child that ``hailong demo`` starts for quay-2 is started
through this file too, so both windows are observed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent.parent))
sys.path.insert(0, str(HERE.parent.parent))


def shown(app, w) -> bool:
    """On the current screen (or the header) and no ancestor hidden (tests/kiosk_driver.py's rule)."""
    sm = app.root.sm
    node = w
    while node is not None and node is not app.root:
        if node.__class__.__name__.endswith("Screen") and node is not sm.current_screen:
            return False
        if node.opacity == 0:
            return False
        node = node.parent
    return True


def observer(probe_dir: Path):
    def service(app):
        from kivy.clock import Clock
        from kivy.core.window import Window
        from kivy.uix.behaviors import ButtonBehavior
        from kivy.uix.label import Label
        kid = app.cfg.kiosk["id"]
        left = int(os.environ.get("KCFG_GRAPHICS_LEFT", "0") or 0)
        top = int(os.environ.get("KCFG_GRAPHICS_TOP", "0") or 0)

        def walk(w):
            yield w
            for child in w.children:
                yield from walk(child)

        def write(_dt):
            root = app.root
            if root is None:
                return
            texts, targets = [], []
            for w in walk(root):
                if not shown(app, w):
                    continue
                if isinstance(w, Label) and w.text:
                    texts.append(w.text)
                if isinstance(w, ButtonBehavior) and not getattr(w, "disabled", False):
                    x, y = w.to_window(*w.center)
                    label = getattr(w, "text", "") or " ".join(
                        c.text for c in walk(w) if isinstance(c, Label) and c.text)
                    targets.append({"cls": w.__class__.__name__, "text": label,
                                    "level": getattr(w, "level", None), "code": getattr(w, "code", None),
                                    "officer_id": getattr(w, "officer_id", None),
                                    "selected": bool(getattr(w, "selected", False)),
                                    "x": left + int(x), "y": top + int(Window.height - y)})
            state = {"kiosk_id": kid, "screen": root.sm.current, "lang": app.lang, "texts": texts,
                     "targets": targets, "refreshes": app.config_refreshes, "pid": os.getpid(),
                     "window": [left, top, Window.width, Window.height]}
            part = probe_dir / f"{kid}.json.part"
            part.write_text(json.dumps(state, ensure_ascii=False), "utf-8")
            os.replace(part, probe_dir / f"{kid}.json")

        event = Clock.schedule_interval(write, 0.25)
        return event.cancel
    return service


def main(argv: list[str]) -> None:
    probe_dir = Path(argv[0])
    probe_dir.mkdir(parents=True, exist_ok=True)
    import kiosk.commands
    real_run = kiosk.commands.run_kiosk

    def run_observed(cfg, demo=False, extra_services=()):
        return real_run(cfg, demo=demo, extra_services=[*extra_services, observer(probe_dir)])
    kiosk.commands.run_kiosk = run_observed

    real_popen = subprocess.Popen

    class Popen(real_popen):
        """``python -m hailong kiosk …`` started by the demo: the same command, observed too."""

        def __init__(self, args, *a, **kw):
            if isinstance(args, list) and args[1:4] == ["-m", "hailong", "kiosk"]:
                args = [args[0], str(HERE), str(probe_dir), *args[3:]]
            super().__init__(args, *a, **kw)
    subprocess.Popen = Popen

    sys.argv = ["hailong", *argv[1:]]
    from hailong.cli import main as hailong_main
    hailong_main()


if __name__ == "__main__":
    main(sys.argv[1:])
