"""The insights chart's geometry: server-side SVG, no JavaScript (``petitions/admin/insights_chart.html``).

Two lines (signed, verified) over the report's buckets, a y axis with round ticks, and a few
dated x labels. The template draws it with ``role="img"``, a ``<title>`` and a data table beside it.
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
    return formats.date_format(moment, "SHORT_DATETIME_FORMAT" if bucket.hourly else "SHORT_DATE_FORMAT")


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

    ticks = [
        {"y": y(top * i / 4), "label": formats.number_format(round(top * i / 4), force_grouping=True)} for i in range(5)
    ]
    # The first point, the first day after the hourly part, and the last point.
    marks = {0, len(buckets) - 1}
    marks |= {i for i, b in enumerate(buckets) if not b.hourly and (i == 0 or buckets[i - 1].hourly)}
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
