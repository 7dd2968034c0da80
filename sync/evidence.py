"""The evidence pack's format, and ``hailong verify-pack`` (offline, no server) — issue 11."""
from __future__ import annotations

import click


@click.command("verify-pack")
@click.argument("pack", type=click.Path(dir_okay=False))
def verify_pack(pack):
    raise click.ClickException("not written yet")
