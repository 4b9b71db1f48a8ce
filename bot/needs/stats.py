"""Counts of the needs database (by province, sector, need, size, status) and a chart of the first three."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import t
from bot.needs.render import STAFF


@dataclass
class NeedsStats:
    submitted: int = 0
    drafts: int = 0
    shared: int = 0  # agreed to share their profile with experts
    by_province: Counter = field(default_factory=Counter)
    by_sector: Counter = field(default_factory=Counter)
    by_need: Counter = field(default_factory=Counter)
    by_size: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        def ranked(counter: Counter) -> dict[str, int]:
            return dict(counter.most_common())

        return {
            "submitted": self.submitted,
            "drafts": self.drafts,
            "shared": self.shared,
            "by_province": ranked(self.by_province),
            "by_sector": ranked(self.by_sector),
            "by_need": ranked(self.by_need),
            "by_size": ranked(self.by_size),
            "by_status": ranked(self.by_status),
        }


def compute(records: list) -> NeedsStats:
    """Submitted profiles are counted by every dimension; drafts only as a number."""
    stats = NeedsStats()
    for r in records:
        if r.submitted_at is None:
            stats.drafts += 1
            continue
        p = r.profile
        stats.submitted += 1
        stats.shared += int(p.consent_share)
        stats.by_province[p.province or "?"] += 1
        stats.by_sector[p.sector or "?"] += 1
        stats.by_need.update(p.needs)
        stats.by_size[r.size_class] += 1
        stats.by_status[r.status] += 1
    return stats


def render_text(stats: NeedsStats, lang: str = STAFF) -> str:
    """Telegram HTML: the totals, then each dimension most frequent first."""

    def items(counter: Counter, label) -> str:
        shown = [f"{html.escape(label(key))} {n}" for key, n in counter.most_common(12)]
        return ", ".join(shown) or t(lang, "needs.stats_empty")

    lines = [t(lang, "needs.stats_title", submitted=stats.submitted, drafts=stats.drafts, shared=stats.shared)]
    for key, counter, label in (
        ("province", stats.by_province, str),
        ("sector", stats.by_sector, lambda s: s),
        ("need", stats.by_need, lambda n: t(lang, f"needs.need_{n}")),
        ("size", stats.by_size, lambda s: t(lang, f"needs.size_{s}")),
        ("status", stats.by_status, lambda s: t(lang, f"needs.status_{s}")),
    ):
        lines.append(t(lang, "needs.stats_line", label=t(lang, f"needs.stats_{key}"), items=items(counter, label)))
    return "\n".join(lines)


def render_png(stats: NeedsStats, lang: str = STAFF) -> bytes:
    """Three horizontal bar charts: profiles by province, by VSIC section, by need; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display in a server process
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = (
        ("province", stats.by_province.most_common(12), str),
        ("sector", stats.by_sector.most_common(12), lambda s: s),
        ("need", stats.by_need.most_common(), lambda n: re.split(r"[;(]", t(lang, f"needs.need_{n}"))[0].strip()),
    )
    # A Figure without pyplot: no global state, safe in the bot's worker threads.
    fig = Figure(figsize=(11, 4.6), dpi=100)
    for n, (key, pairs, label) in enumerate(panels, 1):
        ax = fig.add_subplot(1, 3, n)
        labels = [label(k) for k, _ in reversed(pairs)] or [t(lang, "needs.stats_empty")]
        values = [v for _, v in reversed(pairs)] or [0]
        ax.barh(labels, values, color=("#2e7d32", "#1565c0", "#f9a825")[n - 1])
        ax.set_title(t(lang, f"needs.stats_{key}"), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(t(lang, "needs.stats_caption"), fontsize=11)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
