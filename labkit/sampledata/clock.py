"""When things happen: days with a weekly and seasonal shape, hours of the day,
and the store's wall clock turned into UTC.

Times are drawn on the stores' wall clock (Pacific time), so "Saturday 14:00"
means what a shopper would see, and then converted to UTC with the time zone's
rules (daylight saving included) before they are written.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from . import params
from .copytext import Ints

DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)


def days_since_epoch(day: dt.date) -> int:
    return (day - _EPOCH).days


def window(end: dt.date) -> tuple[int, int]:
    """First and last-plus-one day (days since 1970) of the sales window: the
    ``params.DAYS`` days before ``end``."""
    last = days_since_epoch(end)
    return last - params.DAYS, last


def day_weights(first: int, stop: int) -> np.ndarray:
    """How busy each day is: weekday x month, and a Black Friday spike."""
    days = np.arange(first, stop)
    # 1970-01-01 was a Thursday, weekday 3 with Monday = 0.
    weekday = (days + 3) % 7
    dates = [_EPOCH + dt.timedelta(days=int(d)) for d in days]
    month = np.array([d.month - 1 for d in dates])
    weights = np.asarray(params.WEEKDAY)[weekday] * np.asarray(params.MONTH)[month]
    for i, d in enumerate(dates):
        # Fourth Thursday of November is day 22..28; Black Friday is the day after.
        if d.month == 11 and d.weekday() == 4 and 23 <= d.day <= 29:
            weights[i] *= params.BLACK_FRIDAY
    return weights / weights.sum()


def months(local_seconds: Ints) -> Ints:
    """Month of the year, 0 for January, of wall-clock times."""
    stamps = np.asarray(local_seconds, dtype="datetime64[s]").astype("datetime64[M]")
    return (stamps.astype(np.int64) % 12).astype(np.int64)


def to_utc(local_seconds: Ints) -> Ints:
    """Wall-clock seconds since 1970 in ``params.TIMEZONE`` to UTC seconds.

    The offset is looked up once per day, and once per hour only on the days
    the clocks change: a few hundred zoneinfo calls instead of one per row. A
    time that does not exist (the hour skipped in spring) or exists twice (in
    autumn) takes the offset in force before the change, as ``fold=0`` does.
    """
    local_seconds = np.asarray(local_seconds, dtype=np.int64)
    if local_seconds.size == 0:
        return local_seconds
    zone = ZoneInfo(params.TIMEZONE)

    def offset(day: int, hour: int) -> int:
        wall = dt.datetime(1970, 1, 1) + dt.timedelta(days=day, hours=hour)
        return int(wall.replace(tzinfo=zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    day = local_seconds // DAY
    first = int(day.min())
    midnight = np.array([offset(first + i, 0) for i in range(int(day.max()) - first + 2)])
    offsets = midnight[day - first]
    for changing in np.flatnonzero(midnight[:-1] != midnight[1:]):
        on_day = day == first + changing
        hourly = np.array([offset(first + int(changing), hour) for hour in range(24)])
        offsets[on_day] = hourly[local_seconds[on_day] % DAY // 3600]
    return local_seconds - offsets


def draw_times(rng: np.random.Generator, online: np.ndarray, first: int, stop: int) -> Ints:
    """Wall-clock seconds for each row: a day by :func:`day_weights`, an hour by
    shop or online hours, minute and second at random."""
    n = len(online)
    day = first + rng.choice(stop - first, size=n, p=day_weights(first, stop))
    shop_hours, shop_p = _hours(params.SHOP_HOURS)
    web_hours, web_p = _hours(params.ONLINE_HOURS)
    hour = np.where(
        online, rng.choice(web_hours, size=n, p=web_p), rng.choice(shop_hours, size=n, p=shop_p)
    )
    return day * DAY + hour * 3600 + rng.integers(0, 3600, size=n)


def _hours(weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.array(list(weights.values()), dtype=float)
    return np.array(list(weights), dtype=np.int64), p / p.sum()
