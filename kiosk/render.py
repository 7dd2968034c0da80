"""Receipt and letter images for a thermal printer (PIL only, no Kivy).

Everything printed is an image: thermal printers have no toned Vietnamese
code page, so text is drawn with the kiosk's Noto Sans, word-wrapped to the
paper's printable width (58 mm paper: 384 dots, 80 mm: 576 dots at 203 dpi),
and thresholded to pure black and white so the printer's raster shows
crisp strokes instead of dithered grey.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

from assets import FONTS
from sync.protocol import nfc, receipt_id

PAPER_DOTS = {58: 384, 80: 576}
#: The smallest QR module printed: 4 dots = 0.5 mm at 203 dpi, which phone
#: cameras and desk scanners read off thermal paper.
MIN_MODULE = 4
QUIET_ZONE = 4
INVITATION = ("Xin mời Ông/Bà quét mã QR tại máy đánh giá "
              "để đánh giá cán bộ đã phục vụ")
#: the same above a QR in the URL form: the citizen's own phone opens it too
INVITATION_PHONE = ("Xin mời Ông/Bà quét mã QR tại máy đánh giá hoặc bằng điện thoại "
                    "để đánh giá cán bộ đã phục vụ")


#: printed under a QR in the URL form (<public base URL>/r/…), with the site's address
PHONE_LINE = "Quét mã để đánh giá trên điện thoại"


def lookup_code(token: str) -> str | None:
    """The receipt id in groups of four ("1a2b 3c4d 5e6f 7a8b"): what the public log's lookup page takes."""
    payload = token.rsplit("/r/", 1)[-1].split(".")[0] if "/r/" in token else ""
    if not payload:
        return None
    rid = receipt_id(payload)
    return " ".join(rid[i:i + 4] for i in range(0, len(rid), 4))


def phone_site(token: str) -> str | None:
    """The short address printed under a URL-form QR ("danhgia.xa-abc.gov.vn"), None for HL1.…"""
    from urllib.parse import urlsplit
    if not token.lower().startswith(("http://", "https://")):
        return None
    base = token.rsplit("/r/", 1)[0]
    parts = urlsplit(base)
    return (parts.netloc + parts.path.rstrip("/")) or None


class RenderError(ValueError):
    """The content cannot be laid out (e.g. a QR text too long for the paper)."""


def _printed(value) -> str:
    """The text printed for a value: "" for None, NFC (sync.protocol.nfc)."""
    return nfc(str(value or ""))


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def paper_width(paper_mm: int) -> int:
    try:
        return PAPER_DOTS[int(paper_mm)]
    except (KeyError, ValueError):
        raise RenderError(f"paper_mm: must be one of {', '.join(map(str, PAPER_DOTS))}") from None


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap by drawn width; a word wider than a line is cut by characters."""
    lines: list[str] = []
    for para in _printed(text).split("\n"):
        line = ""
        for word in para.split():
            candidate = f"{line} {word}" if line else word
            if fnt.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while fnt.getlength(word) > width:
                cut = len(word)
                while cut > 1 and fnt.getlength(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


@dataclass
class Sizes:
    """Type sizes and margins for one paper width (58 mm values scaled to 80 mm)."""

    width: int

    def __post_init__(self):
        s = self.width / 384
        self.margin = round(8 * s)
        self.title = round(28 * s)
        self.heading = round(25 * s)
        self.body = round(23 * s)
        self.small = round(19 * s)
        self.gap = round(10 * s)


class Canvas:
    """A paper strip drawn top to bottom; ``image()`` crops it and makes it 1-bit."""

    def __init__(self, width: int, max_height: int = 6000):
        self.width = width
        self.sizes = Sizes(width)
        self.img = Image.new("L", (width, max_height), 255)
        self.draw = ImageDraw.Draw(self.img)
        self.y = self.sizes.margin
        #: every line drawn, in order: the paper's text, kept with the image (``image().info["text"]``)
        self.lines: list[str] = []

    @property
    def inner(self) -> int:
        return self.width - 2 * self.sizes.margin

    def text(self, text: str, size: int, bold: bool = False, align: str = "left",
             spacing: float = 1.25) -> None:
        fnt = font(size, bold)
        line_h = round(size * spacing)
        for line in wrap(text, fnt, self.inner):
            w = fnt.getlength(line)
            x = {"left": self.sizes.margin, "center": (self.width - w) / 2,
                 "right": self.width - self.sizes.margin - w}[align]
            self.draw.text((x, self.y), line, font=fnt, fill=0)
            self.lines.append(line)
            self.y += line_h

    def field(self, label: str, value: str, size: int) -> None:
        """``Label: value`` with the label bold, value wrapped under the line's width."""
        bold, regular = font(size, True), font(size)
        label = _printed(label) + " "
        lw = bold.getlength(label)
        line_h = round(size * 1.25)
        self.draw.text((self.sizes.margin, self.y), label, font=bold, fill=0)
        # Whole words only beside the label: a code such as a dossier number
        # goes to the next line intact rather than being cut.
        words, taken = _printed(value).split(), 0
        while taken < len(words) and regular.getlength(" ".join(words[:taken + 1])) <= self.inner - lw:
            taken += 1
        if taken:
            self.draw.text((self.sizes.margin + lw, self.y), " ".join(words[:taken]), font=regular, fill=0)
        rest = " ".join(words[taken:])
        self.lines.append((label + " ".join(words[:taken])).rstrip())
        self.y += line_h
        if rest:
            for line in wrap(rest, regular, self.inner):
                self.draw.text((self.sizes.margin, self.y), line, font=regular, fill=0)
                self.lines.append(line)
                self.y += line_h

    def boxed(self, lines: list[tuple[str, int, bool]]) -> None:
        """``(text, size, bold)`` lines centred in a ruled box (what the citizen must not miss)."""
        m, pad = self.sizes.margin, self.sizes.gap // 2
        self.y += pad
        top = self.y
        self.y += pad
        for text, size, bold in lines:
            self.text(text, size, bold=bold, align="center")
        self.y += pad
        self.draw.rectangle((m, top, self.width - m - 1, self.y), outline=0, width=2)
        self.y += pad

    def rule(self, dashed: bool = False) -> None:
        self.y += self.sizes.gap // 2
        m = self.sizes.margin
        if dashed:
            for x in range(m, self.width - m, 12):
                self.draw.line((x, self.y, min(x + 6, self.width - m), self.y), fill=0, width=2)
        else:
            self.draw.line((m, self.y, self.width - m, self.y), fill=0, width=2)
        self.y += self.sizes.gap

    def space(self, n: int = 1) -> None:
        self.y += self.sizes.gap * n

    def paste_center(self, img: Image.Image) -> None:
        self.img.paste(img.convert("L"), ((self.width - img.width) // 2, self.y))
        self.y += img.height

    def image(self) -> Image.Image:
        """Crop to the drawn height and threshold to black/white (no dithering)."""
        if self.y + self.sizes.margin > self.img.height:
            raise RenderError(f"content is {self.y} dots long, more than {self.img.height}: shorten the text")
        out = self.img.crop((0, 0, self.width, self.y + self.sizes.margin))
        out = out.point(lambda p: 0 if p < 160 else 255, mode="1")
        out.info["text"] = "\n".join(self.lines)     # what the paper says (tests, saved PNGs)
        return out


def qr_image(text: str, max_width: int) -> Image.Image:
    """The QR code (error correction M) with the largest whole-dot modules that fit."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=QUIET_ZONE)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # includes the quiet zone
    n = len(matrix)
    module = min(max_width // n, 10)
    if module < MIN_MODULE:
        raise RenderError(f"QR text of {len(text)} characters is too long for this paper "
                          f"({n} modules need {n * MIN_MODULE} dots, {max_width} available)")
    small = Image.new("1", (n, n), 1)
    small.putdata([0 if cell else 1 for row in matrix for cell in row])
    return small.resize((n * module, n * module), Image.NEAREST)


def format_when(when: datetime) -> str:
    return f"{when:%H:%M} - {when:%d/%m/%Y}"


def valid_until_lines(until: datetime) -> tuple[str, str]:
    """The receipt's validity, Vietnamese and English: "Phiếu có giá trị đến 17:05 ngày 08/12/2026"."""
    return (f"Phiếu có giá trị đến {until:%H:%M} ngày {until:%d/%m/%Y}",
            f"Valid until {until:%H:%M} on {until:%d/%m/%Y}")


def appointment_lines(day: date) -> tuple[str, str, str]:
    """The dossier's appointment date as the receipt prints it: Vietnamese words, the date, English words."""
    return "Ngày hẹn trả kết quả:", f"{day:%d/%m/%Y}", "Appointment date"


def save_png(image: Image.Image, path) -> None:
    """Save a rendered paper (to a path or a binary file) as PNG with its text (a tEXt chunk "text"), so the file says what it shows."""
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    if image.info.get("text"):
        info.add_itxt("text", image.info["text"])
    image.save(path, format="PNG", optimize=True, pnginfo=info)


def render_receipt(*, token: str, unit_name: str, desk_name: str, officer_name: str,
                   officer_title: str | None, dossier_code: str, procedure_name: str | None,
                   issued_at: datetime, valid_until: datetime | None = None,
                   appointment: date | None = None, paper_mm: int = 58) -> Image.Image:
    """The printed QR receipt: who served which dossier, the QR to rate them, and until when.

    ``issued_at`` and ``valid_until`` are printed as they are given: the
    caller passes them at the kiosk's offset (kiosk.receipts.receipt_image).
    ``appointment``: the dossier's appointment date (the receipt's ``a``),
    printed in a box of its own under the dossier, Vietnamese then English.
    """
    c = Canvas(paper_width(paper_mm))
    s = c.sizes
    c.text(unit_name, s.title, bold=True, align="center")
    if desk_name:
        c.text(desk_name, s.small, align="center")
    c.rule()
    c.text("PHIẾU MỜI ĐÁNH GIÁ", s.heading, bold=True, align="center")
    c.text("mức độ hài lòng", s.body, align="center")
    c.space()
    c.field("Cán bộ:", officer_name, s.body)
    if officer_title:
        c.text(officer_title, s.small)
    c.field("Mã hồ sơ:", dossier_code, s.body)
    if procedure_name:
        c.field("Thủ tục:", procedure_name, s.body)
    c.field("Thời gian:", format_when(issued_at), s.body)
    if appointment is not None:
        vi, day, en = appointment_lines(appointment)
        c.boxed([(vi, s.body, True), (day, s.title, True), (en, s.small, False)])
    c.rule(dashed=True)
    site = phone_site(token)
    c.text(INVITATION_PHONE if site else INVITATION, s.body, bold=True, align="center")
    c.space()
    c.paste_center(qr_image(token, c.width))
    if site:     # the URL form (a public rating page): the phone's camera opens it too
        c.space()
        c.text(PHONE_LINE.replace(" trên ", "\ntrên ", 1), s.body, bold=True, align="center")
        c.text(site, s.small, align="center")
        rid = lookup_code(token)
        if rid:   # typed at <site>/log by anyone, to see that this receipt's rating is in the public log
            c.text(f"Mã tra cứu: {rid}", s.small, align="center")
        c.space()
    if valid_until is not None:
        vi, en = valid_until_lines(valid_until)
        c.text(vi.replace(" đến ", " đến\n", 1), s.body, bold=True, align="center")   # the date on a line of its own
        c.text(en, s.small, align="center")
    c.text("Mỗi phiếu được đánh giá một lần. "
           "Không cần cung cấp thông tin cá nhân.", s.small, align="center")
    c.space(2)
    return c.image()


def render_letter(body: str, paper_mm: int = 58) -> Image.Image:
    """A letter from its filled template text.

    Template lines: ``# text`` a bold centred heading, ``> text`` a centred
    line (signature block), a blank line a paragraph gap, anything else a
    wrapped paragraph line.
    """
    c = Canvas(paper_width(paper_mm))
    s = c.sizes
    for raw in _printed(body).splitlines():
        line = raw.rstrip()
        if not line:
            c.space()
        elif line.startswith("# "):
            c.text(line[2:], s.heading, bold=True, align="center")
        elif line.startswith("> "):
            c.text(line[2:], s.body, align="center")
        elif line == "---":
            c.rule()
        else:
            c.text(line, s.body)
    c.space(2)
    return c.image()
