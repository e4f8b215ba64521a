"""What a line plan requires of the values its line reads, and how the tracer checks it.

The planner (line_plan) states, for a step, conditions on the variables the line is about to read:
that a value is inert, an exact builtin container, a builtin iterator, or a given builtin. The
tracer (FrameTrace.verdict) checks them against the values at the line event, before the line
runs. This module is what both sides share: the requirement kinds, the scopes a name is looked up
in, the tagged paths that name a value (a variable, an item of one, an int computed from them),
the builtins a line may call, and the checks themselves.
"""

import builtins
import math

# Requirement kinds, checked by FrameTrace.verdict. TARGET: the object an item is stored into or
# deleted from, or whose method changes it, which must be of one of the exact builtin types given
# (their item stores and those methods run no foreign code).
INERT, CONTAINER, ITERATOR, BUILTIN, LOOP, TARGET = range(6)
# Where a requirement's name is looked up: the frame's variables; its globals then builtins; or
# the variables, then globals, then builtins (LOAD_NAME).
LOCAL, GLOBAL, NAME = range(3)

INERT_TYPES = frozenset([int, float, bool, type(None), str, bytes, complex])
CONTAINER_TYPES = frozenset([list, tuple, dict, set, frozenset, str, bytes, range])
ITERATOR_TYPES = frozenset(type(iter(value)) for value in (
    [], (), "", "\u20ac", b"", {}, set(), range(1), range(1 << 70), {}.values(), {}.items(), reversed([]),
))
_MAX_INERT_TUPLE = 16
# Builtins that run no foreign code on inert arguments (len: on a container too), and give inert
# values; and the math module's functions of numbers, by the names `from math import ...` gives them.
PURE_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("range", "len", "abs", "int", "float", "str", "bool", "min", "max", "divmod", "ord", "chr")
}
PURE_BUILTINS.update({
    name: getattr(math, name)
    for name in ("sqrt", "isqrt", "floor", "ceil", "gcd", "log", "log2", "log10", "exp", "factorial", "comb", "fabs")
})

# Tagged abstract values, the paths requirements name: (VAR, scope, name) a variable's value at the
# line event; (CONST, value); (ITEM, container, index) an item of a checked container; (TUPLE, items)
# a tuple built in the step; (BINOP, op, left, right) an int computed from tagged values.
VAR, CONST, ITEM, TUPLE, BINOP = "var", "const", "item", "tuple", "binop"
# BINARY_OP arguments whose result `resolve` computes on ints: +, //, *, -, % and their in-place forms.
INT_OPS = {
    0: lambda a, b: a + b, 2: lambda a, b: a // b, 5: lambda a, b: a * b, 6: lambda a, b: a % b, 10: lambda a, b: a - b,
    13: lambda a, b: a + b, 15: lambda a, b: a // b, 18: lambda a, b: a * b, 19: lambda a, b: a % b, 23: lambda a, b: a - b,
}


def is_inert(value, depth=0):
    kind = type(value)
    if kind in INERT_TYPES:
        return True
    if kind is tuple and len(value) <= _MAX_INERT_TUPLE and depth < 4:
        for item in value:
            if not is_inert(item, depth + 1):
                return False
        return True
    return False


def resolve(path, lookup):
    """The value a requirement's path names at the line event: a variable (`lookup(scope, name)`),
    or an item of a list, tuple or str (indexing those runs no code; a dict lookup may run a key's
    __eq__, so a dict's items are never read here). MISSING when it cannot be read so."""
    if path[0] == VAR:
        return lookup(path[1], path[2])
    if path[0] == CONST:
        return path[1]
    if path[0] == BINOP:
        left, right = resolve(path[2], lookup), resolve(path[3], lookup)
        if type(left) is not int or type(right) is not int or max(abs(left), abs(right)) > _SMALL:
            return MISSING
        try:
            return INT_OPS[path[1]](left, right)
        except ZeroDivisionError:
            return MISSING
    container = resolve(path[1], lookup)
    index = resolve(path[2], lookup)
    if type(container) not in (list, tuple, str) or type(index) not in (int, bool):
        return MISSING
    try:
        return container[index]
    except IndexError:
        return MISSING


MISSING = object()
_SMALL = 1 << 62  # ints resolve computes with: no time to speak of


def check(kind, value, extra):
    """Whether a requirement of `kind` holds for `value` (see line_plan.plan_step)."""
    if value is MISSING:
        return False
    if kind == INERT:
        return is_inert(value)
    if kind == CONTAINER:
        return type(value) in CONTAINER_TYPES or is_inert(value)
    if kind == ITERATOR:
        return type(value) in ITERATOR_TYPES
    if kind == TARGET:
        return type(value) in extra
    return value is extra  # BUILTIN
