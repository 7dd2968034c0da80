"""``hailong admin``: the group of sync/server/commands.py plus the sub-commands kept beside their feature.

Each feature's commands live in their own module (``commands_cases``,
``commands_evidence``, ``commands_scores``), which may use the helpers of
sync/server/commands.py (``_engine``, ``Refused``…); commands.py never imports
them, so there is no circle: this module joins them.
"""
from __future__ import annotations

from sync.server import (
    commands_backup,
    commands_bundle,
    commands_cases,
    commands_evidence,
    commands_scores,
    commands_survey_report,
    commands_surveys,
)
from sync.server.commands import admin

for _module in (commands_backup, commands_bundle, commands_cases, commands_evidence, commands_scores, commands_surveys, commands_survey_report):
    for _command in _module.COMMANDS:
        admin.add_command(_command)

__all__ = ["admin"]
