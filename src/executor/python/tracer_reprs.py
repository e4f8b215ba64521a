"""Bounded text of a program's values and exceptions, as the tracer records them.

Reprs are bounded *while* they are built, never built whole and cut afterwards (a big container
is sampled, a huge int named by its size); a failing `__repr__` gives a marker, a slow one is cut
off by a CPU-time budget; memory addresses are stripped so traces are reproducible.
"""

import json
import re
import signal

_MAX_CONTAINER_ITEMS_SCANNED = 10_000
# An item's repr longer than 16 characters (the least budget an item gets) could be cut: ints this
# small never are; among Nones, an item's length is read off the text.
_FLAT_INT_BOUND = 10 ** 15
_NONE_TYPE = type(None)
_FLAT_KINDS = frozenset([int, bool, _NONE_TYPE])
_LONG_ITEM = re.compile(r"[^ ,]{17}")
# Below this many items the per-item loop is as quick as the flat path.
_FLAT_MIN_ITEMS = 8
_MAX_MESSAGE_CHARS = 1000
encode = json.encoder.encode_basestring  # the C encoder: a JSON string literal, non-ASCII kept


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_MODULE_FROM = re.compile(r"^<module '([^']*)' (?:from '[^']*'|\(built-in\)|\(frozen\)|\(namespace\)[^>]*)>$")


def _normalize(text):
    if " at 0x" in text:
        text = _ADDRESS.sub("", text)
    if text.startswith("<module "):
        text = _MODULE_FROM.sub(r"<module '\1'>", text)
    return text


class _SlowRepr(BaseException):
    """Raised into a __repr__ that ran past its CPU-time budget (SIGPROF); a BaseException so that
    the program's own `except Exception` inside its __repr__ does not swallow it."""


# A program's __repr__ runs inside the tracer, between two lines: past this much CPU it becomes a marker.
_REPR_CPU_SECONDS = 0.2


class ReprBudget:
    """Builds reprs no longer than `limit` characters (plus a marker saying how much was left out).
    After each repr, `reached` holds the ids of the builtin containers it visited (the only
    objects whose change can change its text), or is None when it ran a repr of another type
    (which may show anything)."""

    __slots__ = ("limit", "quiet", "in_foreign", "reached")

    def __init__(self, limit):
        self.limit = max(16, limit)
        self.reached = None
        # Set while a program's own __repr__ runs, so what it prints is not taken as program output.
        self.quiet = False
        # Set while a __repr__ of a type other than the builtins runs under its CPU-time budget.
        self.in_foreign = False
        signal.signal(signal.SIGPROF, self._on_slow_repr)

    def _on_slow_repr(self, signum, frame):
        if self.in_foreign:
            raise _SlowRepr()  # again every tick while it runs: a bare `except:` cannot keep it going

    def repr(self, value):
        self.quiet = True
        self.reached = set()
        try:
            return self._bounded(value, self.limit, set())
        finally:
            self.quiet = False

    def _bounded(self, value, budget, active):
        kind = type(value)
        if kind is str:
            if len(value) > budget:
                return repr(value[:budget]) + "…(%d chars)" % len(value)
            return repr(value)
        if kind is int:
            if value.bit_length() > budget * 4:
                return "<int with %d bits>" % value.bit_length()
            text = repr(value)
        elif kind is float or kind is bool or value is None:
            return repr(value)
        elif kind is list or kind is tuple or kind is set or kind is frozenset:
            return self._sequence(value, kind, budget, active)
        elif kind is dict:
            return self._mapping(value, budget, active)
        else:
            text = self._foreign(value, kind, budget)
        if len(text) > budget:
            return text[:budget] + "…"
        return text

    def _foreign(self, value, kind, budget):
        self.reached = None
        try:
            size = len(value) if hasattr(kind, "__len__") and not isinstance(value, type) else None
        except BaseException:
            size = None
        if size is not None and size > _MAX_CONTAINER_ITEMS_SCANNED:
            return "<%s with %d items>" % (kind.__name__, size)
        try:
            try:
                self.in_foreign = True
                signal.setitimer(signal.ITIMER_PROF, _REPR_CPU_SECONDS, 0.01)
                text = repr(value)
            finally:
                self.in_foreign = False
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _SlowRepr:
            return "<%s (repr took over %d ms of CPU)>" % (kind.__name__, _REPR_CPU_SECONDS * 1000)
        except BaseException as error:  # a program's __repr__ may raise anything
            return "<%s (repr failed: %s)>" % (kind.__name__, type(error).__name__)
        if type(text) is not str:
            return "<%s (repr returned %s)>" % (kind.__name__, type(text).__name__)
        return _normalize(text)

    def _sequence(self, value, kind, budget, active):
        key = id(value)
        if key in active:
            return "[...]" if kind is list else "(...)"
        if self.reached is not None:
            self.reached.add(key)
        if kind is list:
            opening, closing = "[", "]"
        elif kind is tuple:
            opening, closing = "(", ",)" if len(value) == 1 else ")"
        elif not value:
            return "set()" if kind is set else "frozenset()"
        else:
            opening, closing = ("{", "}") if kind is set else ("frozenset({", "})")
        if (kind is list or kind is tuple) and len(value) >= _FLAT_MIN_ITEMS:
            text = _flat_sequence(value, kind, budget)
            if text is not None:
                return text
        active.add(key)
        try:
            parts = []
            used = len(opening) + len(closing)
            for item in value:
                text = self._bounded(item, max(16, budget - used), active)
                used += len(text) + 2
                if used > budget and parts:
                    parts.append("…(%d items)" % len(value))
                    break
                parts.append(text)
            return opening + ", ".join(parts) + closing
        finally:
            active.discard(key)

    def _mapping(self, value, budget, active):
        key = id(value)
        if key in active:
            return "{...}"
        if self.reached is not None:
            self.reached.add(key)
        active.add(key)
        try:
            parts = []
            used = 2
            for k, v in value.items():
                text = self._bounded(k, max(16, budget - used), active) + ": "
                text += self._bounded(v, max(16, budget - used - len(text)), active)
                used += len(text) + 2
                if used > budget and parts:
                    parts.append("…(%d items)" % len(value))
                    break
                parts.append(text)
            return "{" + ", ".join(parts) + "}"
        finally:
            active.discard(key)


def _flat_sequence(value, kind, budget):
    """ReprBudget._sequence's text of a list or tuple whose first items are all ints, bools or None
    (a DP row, a list of counts), built by C code. None when the items are of any other kind or one
    it keeps prints longer than 16 characters (the caller takes the per-item loop).

    Such items are never cut and never hold ", ", so the repr of the head is the loop's text up to
    where the loop stops. The loop counts two characters for the brackets and item + separator
    for each item, so item i fits when the ", " after it starts at most at budget - 3."""
    # Each item takes at least three characters with its separator: no more than this many fit.
    head = value[:budget // 3 + 2]
    kinds = set(map(type, head))
    if not kinds <= _FLAT_KINDS:
        return None
    # Ints alone are bounded by value; ints among Nones by their length in the text.
    has_none = _NONE_TYPE in kinds
    if not has_none and (max(head) >= _FLAT_INT_BOUND or min(head) <= -_FLAT_INT_BOUND):
        return None
    check_text = has_none and len(kinds) > 1
    text = repr(list(head))
    opening, closing = ("[", "]") if kind is list else ("(", ")")
    if len(head) == len(value) and len(text) + 2 <= budget:
        cut = len(text) - 1
        marker = ""
    else:
        cut = text.rfind(", ", 1, budget - 1)
        if cut == -1:
            cut = text.find(", ")  # the first item is kept whatever its length
        marker = ", …(%d items)" % len(value)
    # The item after the cut counts too: the loop would shorten a long one, and it might then fit.
    if check_text and _LONG_ITEM.search(text, 1, cut + 19):
        return None
    return opening + text[1:cut] + marker + closing


def exception_info(error):
    """[type name, message] of an exception, the message bounded."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = kind.__module__ + "." + name
    try:
        message = str(error)
    except BaseException:
        message = "<str() failed>"
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[:_MAX_MESSAGE_CHARS] + "…(%d chars)" % len(message)
    return [name, message]


def encode_exception(info):
    """exception_info's pair as a JSON array."""
    return "[%s,%s]" % (encode(info[0]), encode(info[1]))
