"""The admin's web pages (HTML): see base.py."""
from sync.server.web.base import install  # noqa: F401
