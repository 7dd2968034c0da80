"""`hailong admin` sub-commands of the evidence feature (issue 11); sync/server/admin_cli.py adds COMMANDS to the group."""
from __future__ import annotations

#: click commands added to `hailong admin`
COMMANDS: list = []
