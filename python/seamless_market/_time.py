"""Times as the provider takes them: ``datetime`` (time-zone aware), ``date`` (midnight UTC),
pandas ``Timestamp``, numpy ``datetime64``, epoch milliseconds (``int``), or text in any
form the CLI takes (ISO-8601, a date, epoch seconds or ms, relative ``-30d``, ``now``)."""

from __future__ import annotations

import datetime as _dt
import numbers

from .errors import BadInputError

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)


def utc(ms: int) -> _dt.datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return EPOCH + _dt.timedelta(milliseconds=ms)


def to_arg(value, name: str):
    """``value`` as epoch ms (``int``) or text for the native layer."""
    if isinstance(value, bool):
        raise BadInputError(f"{name}: {value!r} is not a time; pass a datetime, an ISO-8601 string or epoch milliseconds")
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadInputError(
                f"{name}: {value.isoformat()} has no time zone; seamless works in UTC: "
                f"pass an aware datetime, e.g. {value.replace(tzinfo=_dt.timezone.utc)!r}"
            )
        return (value - EPOCH) // _MS
    if isinstance(value, _dt.date):
        return (_dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc) - EPOCH) // _MS
    if type(value).__name__ == "datetime64":  # numpy, without importing it
        return int(value.astype("datetime64[ms]").astype("int64"))
    raise BadInputError(
        f"{name}: cannot read {type(value).__name__} {value!r} as a time; pass a datetime, "
        "an ISO-8601 string, or epoch milliseconds"
    )
