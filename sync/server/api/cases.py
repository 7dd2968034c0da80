"""Admin API: ``GET /api/v1/cases`` (issue 11)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
