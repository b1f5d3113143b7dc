"""The insights chart's geometry: server-side SVG, no JavaScript (``petitions/admin/insights_chart.html``).

Two lines (signed, verified) over buckets of one kind (the first hours, or the days after
them: one chart each, each with its own scale), a y axis with round ticks, and a few dated x
labels. The template draws it with ``role="img"``, a ``<title>`` and a data table beside it.
"""

from django.utils import formats, timezone

WIDTH, HEIGHT = 720, 260
#: Room for the axis labels: inline start (y labels), block end (x labels), and a little elsewhere.
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 36


def nice_ceiling(value):
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1): the y axis's top."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def label(bucket):
    moment = timezone.localtime(bucket.start)
    text = formats.date_format(moment, "SHORT_DATETIME_FORMAT" if bucket.hourly else "SHORT_DATE_FORMAT")
    # The chart is drawn left to right: the right-to-left marks of some formats (Arabic's) would reorder the date.
    return text.replace("\u200f", "")


def chart(buckets) -> dict | None:
    """The SVG's numbers for ``buckets`` (``cms.insights_report.Bucket``), or None with no data."""
    if not buckets:
        return None
    top = nice_ceiling(max(max(b.signed, b.verified) for b in buckets))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(buckets) - 1, 1)

    def x(index):
        return round(LEFT + index * step, 1)

    def y(value):
        return round(TOP + plot_height * (1 - value / top), 1)

    def points(attribute):
        return " ".join(f"{x(i)},{y(getattr(b, attribute))}" for i, b in enumerate(buckets))

    parts = min(5 if str(top).startswith("5") else 4, top)  # round steps: 0, 1,000, 2,000… or 0, 500, 1,000…
    ticks = [
        {"y": y(top * i / parts), "label": formats.number_format(round(top * i / parts), force_grouping=True)}
        for i in range(parts + 1)
    ]
    # The first point, the last, and two between.
    marks = {0, len(buckets) - 1, len(buckets) // 3, 2 * len(buckets) // 3}
    x_labels = [{"x": x(i), "label": label(buckets[i])} for i in sorted(marks)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "label_y": HEIGHT - BOTTOM + 22,
        "signed": points("signed"),
        "verified": points("verified"),
        "ticks": ticks,
        "x_labels": x_labels,
    }
