"""Admin pages of the evidence feature (issue 11)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
