"""Kivy settings for kiosk mode, applied before the Window exists.

Kept apart from the app so the input choice is tested without a window.

ONE touch input provider: Kivy's default config has both ``mouse`` and
``probesysfs``; on a Raspberry Pi touchscreen SDL also turns each touch into
a mouse event, so one tap arrives twice (kivy #3801, #1903). We clear the
whole ``[input]`` section and keep only the provider config.toml names.
"""
from __future__ import annotations

import os


def input_providers(ui: dict) -> dict[str, str]:
    """The [input] section for config.toml's ``[ui] input_provider`` / ``input_device``."""
    provider, device = ui["input_provider"], ui.get("input_device", "")
    if provider == "mouse":
        return {"mouse": "mouse,disable_multitouch"}
    if provider in ("mtdev", "hidinput"):
        if device:
            return {"touch": f"{provider},{device}"}
        return {"%(name)s": f"probesysfs,provider={provider}"}
    # probesysfs: let Kivy find the touchscreen; input_device narrows it by name
    return {"%(name)s": "probesysfs" + (f",match={device}" if device else "")}


def kivy_settings(ui: dict) -> dict[str, dict[str, str]]:
    """Every Kivy Config value kiosk mode sets, by section."""
    return {
        "kivy": {"exit_on_escape": "0", "pause_on_minimize": "0", "keyboard_mode": "system"},
        "graphics": {
            "fullscreen": "auto" if ui["fullscreen"] else "0",
            "width": str(ui["width"]), "height": str(ui["height"]),
            "show_cursor": "1" if ui["show_cursor"] else "0",
            "resizable": "0", "multisamples": "0",
        },
        "input": input_providers(ui),
        "postproc": {"double_tap_time": "0", "triple_tap_time": "0",
                     "retain_time": "0", "jitter_distance": "0"},
    }


def configure(ui: dict) -> None:
    """Set Kivy's Config for kiosk mode. Must run before kivy.core.window is imported."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")   # SIGTERM must stop the kiosk (app.py)
    import sys
    if "kivy.core.window" in sys.modules:
        raise RuntimeError("configure() must run before the Kivy Window is created")
    from kivy.config import Config
    settings = kivy_settings(ui)
    for option in list(Config.options("input")):
        Config.remove_option("input", option)
    for section, values in settings.items():
        if not Config.has_section(section):
            Config.add_section(section)
        for key, value in values.items():
            Config.set(section, key, value)
