"""Letters from a case: the apology letter for a case's dossier, and the record that it was sent (issue 11)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
