"""The ``hailong`` command line: one entry, sub-commands owned by each part.

Each sub-command lives beside the code it drives and is imported only when
used, so a kiosk without the server's packages (and a server without Kivy)
runs its own commands.

Language: every help text and message is Vietnamese, English when the
environment says so (``LANG=en_US.UTF-8``; sync/cli_i18n.py). Click's own
words ("Usage:", "Options", "Error: Missing option …") come from click in
English; in Vietnamese they are replaced here, at the entry point, by
:data:`CLICK_VI` (click looks each up through ``gettext`` at the moment it
writes it, so the names it imported are pointed at this table).
"""
from __future__ import annotations

import importlib

import click

from sync.cli_i18n import _

#: sub-command -> "module:attribute" of its click command or group.
COMMANDS = {
    "kiosk": "kiosk.commands:kiosk",
    "receipt": "kiosk.receipt_commands:receipt",
    "sync": "kiosk.sync_commands:sync",
    "server": "sync.server.commands:server",
    "admin": "sync.server.admin_cli:admin",
    "verify-pack": "sync.evidence:verify_pack",
    "pull": "sync.pull:pull",
    "audit": "sync.audit:audit_command",
    "demo": "hailong.demo:demo",
    "update": "hailong.update:update_command",
}

#: click's own words, in Vietnamese (its English text → ours).
CLICK_VI = {
    "Usage:": "Cách dùng:",
    "Options": "Tùy chọn",
    "Commands": "Lệnh",
    "Positional arguments": "Đối số",
    "Show this message and exit.": "Hiện hướng dẫn này rồi thoát.",
    "Show the version and exit.": "Hiện phiên bản rồi thoát.",
    "%(prog)s, version %(version)s": "%(prog)s, phiên bản %(version)s",
    "Error: {message}": "Lỗi: {message}",
    "Try '{command} {option}' for help.": "Xem hướng dẫn: '{command} {option}'.",
    "Missing command.": "Thiếu lệnh.",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "Missing option": "Thiếu tùy chọn",
    "Missing argument": "Thiếu đối số",
    "Missing parameter": "Thiếu tham số",
    "Missing {param_type}": "Thiếu {param_type}",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "default: {default}": "mặc định: {default}",
    "env var: {var}": "biến môi trường: {var}",
    "required": "bắt buộc",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải một số hợp lệ.",
    "{value} is not in the range {range}.": "{value} không nằm trong khoảng {range}.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} không tồn tại.",
    "{name} {filename!r} is a file.": "{name} {filename!r} là một tệp.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} là một thư mục.",
    "{name} {filename!r} is not readable.": "Không đọc được {name} {filename!r}.",
    "{name} {filename!r} is not writable.": "Không ghi được {name} {filename!r}.",
    "file": "tệp", "directory": "thư mục", "path": "đường dẫn",
    "File": "Tệp", "Directory": "Thư mục", "Path": "Đường dẫn",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
    "Aborted!": "Đã dừng!",
    "Repeat for confirmation": "Nhập lại để xác nhận",
    "Error: The two entered values do not match.": "Lỗi: hai lần nhập không khớp nhau.",
    "Error: invalid input": "Lỗi: nhập không hợp lệ",
    # ngettext: (singular, plural) → one Vietnamese form
    "{value!r} is not {choice}.": "{value!r} không phải {choice}.",
    "{value!r} is not one of {choices}.": "{value!r} không phải một trong {choices}.",
    "Got unexpected extra argument ({args})": "Thừa đối số ({args})",
    "Got unexpected extra arguments ({args})": "Thừa đối số ({args})",
    "Option {name!r} requires an argument.": "Tùy chọn {name!r} cần một giá trị.",
    "Option {name!r} requires {nargs} arguments.": "Tùy chọn {name!r} cần {nargs} giá trị.",
    "Did you mean {possibility}?": "Có phải ý bạn là {possibility}?",
    "(Did you mean one of: {possibilities}?)": "(Có phải ý bạn là một trong: {possibilities}?)",
}
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


def click_in_vietnamese() -> None:
    """Point the ``gettext``/``ngettext`` names click's modules imported at :data:`CLICK_VI`."""
    def gettext(message: str) -> str:
        return CLICK_VI.get(message, message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)

    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if getattr(module, "_", None) is not None and callable(module._):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext


if _.language == "vi":
    click_in_vietnamese()


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             help=_("hailong: người dân đánh giá cán bộ của Bộ phận Một cửa.\n\n"
                    "Tiếng Việt mặc định; tiếng Anh khi môi trường chọn (LANG=en_US.UTF-8)."))
@click.version_option(package_name="hailong")
def main():
    pass


if __name__ == "__main__":
    main()
