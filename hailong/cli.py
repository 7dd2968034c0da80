"""The ``hailong`` command line: one entry, sub-commands owned by each part.

Each sub-command lives beside the code it drives and is imported only when
used, so a kiosk without the server's packages (and a server without Kivy)
runs its own commands.
"""
from __future__ import annotations

import importlib

import click

#: sub-command -> "module:attribute" of its click command or group.
COMMANDS = {
    "kiosk": "kiosk.commands:kiosk",
    "receipt": "kiosk.receipt_commands:receipt",
    "sync": "kiosk.sync_commands:sync",
    "server": "sync.server.commands:server",
    "admin": "sync.server.commands:admin",
    "pull": "sync.pull:pull",
    "demo": "hailong.demo:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hailong")
def main():
    """hailong: citizens rate the officers of a one-stop desk."""


if __name__ == "__main__":
    main()
