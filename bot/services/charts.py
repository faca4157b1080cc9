"""Charts for the monthly report: matplotlib on the Agg backend, returned as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

# matplotlib is imported when the first chart is drawn (once a month), not at start-up: it
# would add half a second to every start of the bot.

# Fonts that carry Chinese glyphs, in order of preference; the first one installed is used.
_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Return an installed font family that can draw Chinese, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in _CJK_FAMILIES if family in installed), None)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    fallback_labels: Sequence[str] | None = None,
    fallback_title: str = "",
) -> bytes:
    """Draw a horizontal bar chart and return it as PNG bytes.

    Without a Chinese font the chart uses the fallback (ASCII) labels rather than empty boxes.
    """
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    import matplotlib

    matplotlib.use("Agg")  # a server has no display; keeps any later pyplot import headless
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    if font is None:
        labels = list(fallback_labels) if fallback_labels is not None else list(labels)
        title = fallback_title
    # Figure() directly, not pyplot: no global state, nothing to close, safe in any thread.
    height = 1.2 + 0.35 * max(1, len(labels))
    fig = Figure(figsize=(6.4, min(height, 12.0)), dpi=100)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))
    ax.barh(positions, list(values), color="#3b7dd8")
    ax.set_yticks(positions, labels=list(labels), fontfamily=font or "DejaVu Sans")
    ax.invert_yaxis()
    for pos, value in zip(positions, values, strict=True):
        ax.annotate(
            str(value), (value, pos), xytext=(3, 0), textcoords="offset points", va="center"
        )
    if title:
        ax.set_title(title, fontfamily=font or "DejaVu Sans")
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
