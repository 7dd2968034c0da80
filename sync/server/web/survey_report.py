"""Stub: filled in by issue 12's work (see docs/architecture.md)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
