"""A PNG chart of the period: questions per day (answered / abstained) and handoffs."""

from __future__ import annotations

import io

from bot.i18n import STAFF, t
from bot.reports.stats import Stats


def render_png(stats: Stats, lang: str = STAFF) -> bytes:
    """Stacked daily bars of answered and abstained questions, handoffs as a line; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display in a server process
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days = [d.day for d in stats.days]
    answered = [d.answered for d in stats.days]
    abstained = [d.abstained for d in stats.days]
    handoffs = [d.handoffs for d in stats.days]
    # A Figure without pyplot: no global state, safe in the bot's worker threads.
    fig = Figure(figsize=(9, 4.2), dpi=110)
    ax = fig.add_subplot()
    ax.bar(days, answered, color="#2e7d32", label=t(lang, "reports.chart_answered"))
    ax.bar(days, abstained, bottom=answered, color="#f9a825", label=t(lang, "reports.chart_abstained"))
    ax.plot(
        days,
        handoffs,
        color="#1565c0",
        marker="o",
        markersize=3,
        linewidth=1.5,
        label=t(lang, "reports.chart_handoffs"),
    )
    start, end = f"{stats.period.start:%d/%m}", f"{stats.period.end:%d/%m/%Y}"
    ax.set_title(t(lang, "reports.chart_title", start=start, end=end))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(DateFormatter("%d/%m"))
    ax.set_ylim(bottom=0, top=max([1, *[a + b for a, b in zip(answered, abstained)], *handoffs]) * 1.15)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    for label in ax.get_xticklabels():
        label.set_fontsize(8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
