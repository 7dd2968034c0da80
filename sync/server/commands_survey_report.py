"""Stub: `hailong admin` sub-commands of issue 12, joined by sync/server/admin_cli.py."""
from __future__ import annotations

COMMANDS: list = []
