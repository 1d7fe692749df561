"""Vendor answers checked against the shape their documentation gives: one place, one wording.

A vendor answer is hostile input. Anything but the documented shape is a
:class:`LiveApiResponseError` naming the vendor, the call and what was wrong, never a Python
exception further down (``TypeError`` on a list where an object belongs) and never a silent
success (``"false"`` read as true, zero URLs, zero tokens). Messages name types, never values:
an answer may hold credentials.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_live_provider.exceptions import LiveApiResponseError
from airflow_live_provider.validation import shown


def kind(value: Any) -> str:
    """What a JSON value is, in words (``null``, ``a string``, ``a list``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else "an infinite number (1e999?)"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def bad_answer(vendor: str, call: str, problem: str) -> LiveApiResponseError:
    return LiveApiResponseError(f"{call} answered in an unexpected shape: {problem}", vendor=vendor)


def expect_dict(value: Any, vendor: str, call: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not an object")
    return value


def expect_list(
    value: Any, vendor: str, call: str, where: str, *, items: type | tuple[type, ...] | None = dict
) -> list[Any]:
    """A list whose every item is an ``items`` (objects by default; None: anything)."""
    if not isinstance(value, list):
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not a list")
    if items is not None:
        for index, item in enumerate(value):
            if not isinstance(item, items):
                wanted = "an object" if items is dict else "text" if items is str else "the documented type"
                raise bad_answer(vendor, call, f"{where}[{index}] is {kind(item)}, not {wanted}")
    return value


def expect_text(value: Any, vendor: str, call: str, where: str) -> str:
    """Non-empty text (a token, an ID, a URL)."""
    if not isinstance(value, str) or not value.strip():
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not non-empty text")
    return value


def expect_choice(value: Any, vendor: str, call: str, where: str, choices: tuple[str, ...]) -> str:
    """One of the documented values, exactly (``"LIVE"`` is not ``"live"``: passed on, every
    comparison with ``"live"`` would read a live channel as ended)."""
    if not isinstance(value, str) or value not in choices:
        shown = repr(value[:40]) if isinstance(value, str) and value else kind(value)
        raise bad_answer(vendor, call, f"{where} is {shown}, not one of {', '.join(choices)}")
    return value


def expect_id(value: Any, vendor: str, call: str, where: str) -> str:
    """An ID sent as text or as a whole number; returned as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return expect_text(value, vendor, call, where)


def expect_bool(value: Any, vendor: str, call: str, where: str) -> bool:
    """A JSON boolean: ``"false"`` (a non-empty string) would otherwise read as true."""
    if not isinstance(value, bool):
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not true or false")
    return value


def expect_count(value: Any, vendor: str, call: str, where: str, *, maximum: int) -> int:
    """A whole number 0..``maximum`` (ASCII digit strings accepted: some vendors quote numbers)."""
    value = _plain_number(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not a whole number >= 0")
    if value > maximum:
        raise bad_answer(vendor, call, f"{where} is {shown(value)}, more than the {maximum} possible")
    return value


def _plain_number(value: Any) -> Any:
    """A quoted number as a number, and an int too large for a float as infinity, so the checks
    after compare and print it safely (``int("9" * 5000)`` and ``float(10**400)`` raise)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) if len(value) <= 20 else math.inf
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**20:
        return math.inf if value > 0 else -math.inf
    return value


def expect_seconds(value: Any, vendor: str, call: str, where: str, *, maximum: float) -> float:
    """A finite number of seconds in (0, ``maximum``]: NaN would never compare as due."""
    value = _plain_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_answer(vendor, call, f"{where} is {kind(value)}, not a number of seconds")
    if not 0 < value <= maximum:
        raise bad_answer(vendor, call, f"{where} is {value:g}; a lifetime is between 0 and {maximum:g} s")
    return float(value)
