"""Charts drawn on the server with matplotlib (no JavaScript, no CDN).

PNG for the Word report, SVG for the web pages. The font is DejaVu Sans,
which ships with matplotlib and carries every Vietnamese letter.

Each chart is its own ``matplotlib.figure.Figure``, never pyplot's: pyplot
keeps a registry of open figures shared by every thread, and the server
draws from several at once (requests; the Word report's chart beside its
queries, report_docx.gather). A Figure saved to PNG or SVG needs no GUI
backend and is freed with its last reference.
"""
from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sync.server.reports.stats import Figures

BLUE = "#1f5fa8"
GREY = "#9aa5b1"


def _short(key: str | None) -> str:
    """"2026-10" -> "10/2026", "2026-10-05" -> "05/10" (a week shows its Monday)."""
    if not key:
        return ""
    if len(key) == 7:
        return f"{key[5:7]}/{key[:4]}"
    if len(key) == 10:
        return f"{key[8:10]}/{key[5:7]}"
    return key


LABELS = ("Tỷ lệ hài lòng (%)", "Số đánh giá hợp lệ", "Chưa có đánh giá trong kỳ")


def _trend_figure(trend: list[Figures], title: str, width: float, height: float, labels_text=LABELS,
                  decimal: str = ","):
    rate_label, count_label, empty_label = labels_text
    labels = [_short(f.key) for f in trend]
    rates = [f.rate for f in trend]
    valid = [f.valid for f in trend]
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.subplots()
    ax2 = ax.twinx()
    x = range(len(labels))
    ax2.bar(x, valid, color=GREY, alpha=0.45, width=0.6, label=count_label)
    ax.plot([i for i, r in zip(x, rates) if r is not None], [r for r in rates if r is not None],
            color=BLUE, marker="o", linewidth=2, label=rate_label)
    for i, r in zip(x, rates):
        if r is not None:
            ax.annotate(f"{r:.1f}".replace(".", decimal), (i, r), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=8, color=BLUE)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylim(0, 110)
    ax.set_ylabel(rate_label)
    ax2.set_ylabel(count_label)
    # The count axis: whole numbers from 0 at the bottom, room above the tallest bar; with no
    # ratings only the 0 (matplotlib alone centres an empty axis on 0: −0.045 … 0.045).
    top = max(valid, default=0)
    if top <= 0:
        ax2.set_ylim(0, 1)
        ax2.set_yticks([0])
    else:
        ax2.set_ylim(0, top * 1.15 if top >= 4 else top + 0.5)
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{int(round(v))}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{int(round(v))}"))
    ax.set_xticks(list(x))
    step = max(1, len(labels) // 12)
    ax.set_xticklabels([lb if i % step == 0 else "" for i, lb in enumerate(labels)],
                       rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center",
                       fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    if labels:      # nothing drawn, nothing to explain (an empty bar set's legend swatch is the default blue)
        ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=2, fontsize=8, frameon=False)
    if not labels:
        ax.set_xticks([])
        ax.text(0.5, 0.5, empty_label, transform=ax.transAxes, ha="center", va="center", color="#5b6775")
    fig.tight_layout()
    return fig


#: the Word report's chart: 6.4 × 3.2 in at 200 dpi (1280 × 640 px, ~200 dpi at the report's 160 mm)
PNG_DPI = 200
#: the last charts drawn, by what they show: the same trend (a report downloaded again, the evidence
#: pack's copy) is drawn once; a few entries of ~100 KB
_PNG_CACHE: dict[tuple, bytes] = {}
_PNG_CACHE_SIZE = 16


def trend_png(trend: list[Figures], title: str = "Tỷ lệ hài lòng theo thời gian") -> bytes:
    """The trend as PNG, drawn once. tight_layout fits the axes, labels and legend in the figure, so it
    is saved as it is laid out: no ``bbox_inches="tight"``, which draws the figure once more to measure
    it (issue 13: the chart was a third of a province's report)."""
    key = (title, tuple((f.key, f.rate, f.valid) for f in trend))   # all the chart reads of a period
    png = _PNG_CACHE.get(key)
    if png is None:
        fig = _trend_figure(trend, title, 6.4, 3.2)
        # laid out once by tight_layout, which leaves a placeholder layout engine that makes savefig
        # draw the whole figure once more before the drawing it saves: none
        fig.set_layout_engine(None)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=PNG_DPI)
        png = buf.getvalue()
        if len(_PNG_CACHE) >= _PNG_CACHE_SIZE:
            _PNG_CACHE.pop(next(iter(_PNG_CACHE)))    # the oldest
        _PNG_CACHE[key] = png
    return png


def trend_svg(trend: list[Figures], title: str = "", labels: tuple[str, str, str] = LABELS,
              decimal: str = ",") -> str:
    """The trend as inline SVG; ``decimal``: the page's decimal mark ("," Vietnamese, "." English)."""
    fig = _trend_figure(trend, title, 6.4, 3.4, labels, decimal)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]   # inline: drop the XML prolog and DOCTYPE
