"""Admin pages of the cases feature (issue 11)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
