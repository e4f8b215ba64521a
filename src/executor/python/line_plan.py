"""Which variables one step of a line may change: the plan behind the tracer's fast path.

A line event fires before its line runs; the step it opens is closed at the frame's next event.
Comparing every variable of the frame at every close (the "full frame") is the reference. Comparing
only some names is right only where nothing else can have changed, which this module decides for
the instructions that can run between the line event at `offset` and the frame's next event:

- A variable is rebound only by the line's own store and delete instructions (and the stores Python
  emits outside any line: the `except ... as e` clean-up). Those names are always compared.
- An object changes only by running code. Loads, stores, stack shuffles, jumps and building tuples
  run none, whatever the values are.
- Arithmetic, comparisons, subscripts, iteration, truth tests and formatting run code of their
  operands' types: a defaultdict's `__missing__` inserts a key, a `__getitem__` or a property can
  do anything. They are safe only on values whose types run no foreign code: `inert` values (int,
  float, bool, None, str, bytes, complex, and small tuples of them) and, for lookups that only read,
  exact builtin containers (list, tuple, dict, set, ..., never a subclass such as defaultdict).
  The plan states these conditions as requirements on the variables the line reads; the tracer
  checks them against the values at the line event, before the line runs.
- A loop header's FOR_ITER advances an iterator made earlier: it is safe when that iterator is a
  builtin one over a container (checked when the step that made it opened, or by its type when it
  is a variable, as a comprehension's `.0`).
- Storing or deleting an item (`row[j] = x`, `counts[k] += 1`, `del d[k]`) of an exact list or
  dict by an inert key, or `xs.append(x)`, `seen.add(k)`, `xs.pop()` on an exact list, set or dict
  (_CONTAINER_METHODS), runs no foreign code but changes an object that other variables may show
  too (an alias, a matrix holding the row). The plan names the object as a TARGET; the tracer then
  also compares every variable whose last repr reached it (FrameTrace.verdict). A repr shows only
  what it reached, so a variable that did not reach it cannot show the change.
- Anything else (calls other than a few builtins on inert arguments, attribute stores, `with`,
  attribute loads on objects, ...) makes the plan None: the whole frame is compared.

While the program runs threads of its own, every line compares the whole frame: another thread can
change the frame's objects at any time.

What the requirements leave open is code the lookups still run: a dict key's `__eq__` on a hash
collision, an element's `__eq__` in `x in xs`. The program's own `__eq__` is traced (a call event
makes the tracer compare the whole frame) and the standard library's Python code is seen as a
foreign call (same effect); the C types of CPython have no `__eq__` with side effects.

This module is the simulation; the requirement kinds and their checks are line_plan_checks (the
tracer checks them too), the opcode tables and per-code facts line_plan_opcodes.
"""

import sys

from line_plan_checks import (
    BINOP, BUILTIN, CONST, CONTAINER, INERT, INERT_TYPES, INT_OPS, ITEM, ITERATOR, LOCAL, LOOP, PURE_BUILTINS, TARGET, TUPLE,
    VAR,
)
from line_plan_opcodes import (
    DELETES, ENDS, LOADS, NO_EFFECT, NONE_JUMPS, NULL_AFTER_GLOBAL, STORES, TRUTH_JUMPS, UNARY, UNCONDITIONAL_JUMPS,
    line_of, reachable, stored_names,
)

_MAX_STATES = 256

# Abstract values on the simulated stack, besides the tagged ones of line_plan_checks.
_INERT = "inert"
_UNKNOWN = "unknown"  # made in this step, type unknown
_BOTTOM = "bottom"  # was on the stack before the step began
_NULL = "null"
_METHOD = "method"  # (_METHOD, container, name): a method of a _CONTAINER_METHODS name, loaded in the step
_ITER = "iter"  # a builtin iterator made in this step from a checked value
_SLICE = "slice"  # a slice built in the step: inert as a key, but storing through it iterates the value

# Methods of exact builtin containers that run no foreign code: name -> (the types they are
# checked for, what each argument must be (None: anything, as a stored reference), most arguments,
# what they return). They change the container, so it is a TARGET like an item store.
_LIST, _SET, _LIST_SET_DICT = frozenset([list]), frozenset([set]), frozenset([list, set, dict])
_CONTAINER_METHODS = {
    "append": (_LIST, None, 1, _INERT),
    "add": (_SET, INERT, 1, _INERT),
    "pop": (_LIST_SET_DICT, INERT, 1, _UNKNOWN),
}
_STORE_TARGETS = frozenset([list, dict])


class Plan:
    """`names`: the variables to compare, or None for the whole frame. `requirements`: tuples
    (kind, path, extra) (see line_plan_checks.resolve and check; LOOP: (LOOP, None, FOR_ITER offset)) that must hold at the line event for `names` to be enough.
    `enters`: FOR_ITER offsets whose iterator this step makes from a checked value; `may_enter`:
    FOR_ITER offsets whose iterator this step may make (its GET_ITER is reachable): unless the step
    is checked and enters them, their next iterations compare the whole frame."""

    __slots__ = ("names", "requirements", "enters", "may_enter")

    def __init__(self, names, requirements, enters, may_enter):
        self.names = names
        self.requirements = requirements
        self.enters = enters
        self.may_enter = may_enter


class _Unsafe(Exception):
    pass


class _Walk:
    """Simulates the instructions of one step on abstract values (see the module docstring)."""

    def __init__(self, instructions, by_offset, start, line):
        self.instructions = instructions
        self.by_offset = by_offset
        self.start = start
        self.line = line
        self.names = set()
        self.requirements = set()
        self.enters = set()

    # -- requirements on values ------------------------------------------------------------------

    def need(self, value, kind):
        """Records what `value` must be for an operation of `kind` to run no foreign code."""
        if value == _INERT:
            return
        if type(value) is tuple and value[0] == "const":
            return
        if type(value) is tuple and value[0] in (VAR, ITEM):
            self.requirements.add((kind, value, None))
            return
        if value == _SLICE:
            return
        if type(value) is tuple and value[0] == BINOP:
            return  # its operands were required inert when it was made; so is its result
        if type(value) is tuple and value[0] == TUPLE:
            for item in value[1]:
                self.need(item, INERT)
            return
        raise _Unsafe()

    # -- the walk ---------------------------------------------------------------------------------

    def run(self):
        pending = [(self.by_offset.get(self.start), (), ())]
        seen = set()
        while pending:
            position, stack, stores = pending.pop()
            if position is None or position >= len(self.instructions):
                raise _Unsafe()
            instruction = self.instructions[position]
            owner = line_of(instruction)
            if owner is not None and owner != self.line and position != self.by_offset.get(self.start):
                continue  # another line: the step ends at its line event
            key = (position, stack, stores)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > _MAX_STATES:
                raise _Unsafe()
            pending.extend(self.step(position, instruction, list(stack), dict(stores)))

    def step(self, position, instruction, stack, stores):
        """The states after `instruction`: [(position, stack, stores), ...]."""
        name = instruction.opname
        arg = instruction.arg

        def pop():
            return stack.pop() if stack else _BOTTOM

        def then(*positions):
            frozen = (tuple(stack), tuple(sorted(stores.items())))
            return [(p,) + frozen for p in positions]

        following = position + 1
        if name in NO_EFFECT:
            return then(following)
        if name in LOADS:
            scope = LOADS[name]
            value = stores.get(instruction.argval) or (VAR, scope, instruction.argval)
            if name == "LOAD_GLOBAL" and arg & 1 and not NULL_AFTER_GLOBAL:
                stack.append(_NULL)
            stack.append(value)
            if name == "LOAD_GLOBAL" and arg & 1 and NULL_AFTER_GLOBAL:
                stack.append(_NULL)
            return then(following)
        if name == "LOAD_FAST_LOAD_FAST":
            for loaded in instruction.argval:
                stack.append(stores.get(loaded) or (VAR, LOCAL, loaded))
            return then(following)
        if name == "LOAD_FAST_AND_CLEAR":
            stack.append(stores.get(instruction.argval) or (VAR, LOCAL, instruction.argval))
            self.names.add(instruction.argval)
            stores[instruction.argval] = _UNKNOWN
            return then(following)
        if name in STORES or name == "STORE_FAST_STORE_FAST":
            for stored in stored_names(instruction):
                self.names.add(stored)
                value = pop()
                stores[stored] = _UNKNOWN if value == _BOTTOM else value
            return then(following)
        if name == "STORE_FAST_LOAD_FAST":
            stored, loaded = instruction.argval
            self.names.add(stored)
            value = pop()
            stores[stored] = _UNKNOWN if value == _BOTTOM else value
            stack.append(stores.get(loaded) or (VAR, LOCAL, loaded))
            return then(following)
        if name in DELETES:
            self.names.add(instruction.argval)
            stores[instruction.argval] = _UNKNOWN
            return then(following)
        if name == "LOAD_CONST":
            # Constants: numbers, strings, None, tuples of them, code objects. Scalars are kept,
            # as indexes of the items a requirement names.
            constant = instruction.argval
            stack.append((CONST, constant) if type(constant) in INERT_TYPES else _INERT)
            return then(following)
        if name == "PUSH_NULL":
            stack.append(_NULL)
            return then(following)
        if name == "POP_TOP":
            pop()
            return then(following)
        if name == "COPY":
            while len(stack) < arg:
                stack.insert(0, _BOTTOM)
            stack.append(stack[-arg])
            return then(following)
        if name == "SWAP":
            while len(stack) < arg:
                stack.insert(0, _BOTTOM)
            stack[-1], stack[-arg] = stack[-arg], stack[-1]
            return then(following)
        if name in UNCONDITIONAL_JUMPS:
            return self.jump(position, instruction, then)
        if name in ENDS:
            return []
        if name in TRUTH_JUMPS:
            self.need(pop(), CONTAINER)  # truth of an inert value or an exact container: no code
            return self.jump(position, instruction, then) + then(following)
        if name in NONE_JUMPS:
            pop()
            return self.jump(position, instruction, then) + then(following)
        if name in ("JUMP_IF_TRUE_OR_POP", "JUMP_IF_FALSE_OR_POP"):
            self.need(stack[-1] if stack else _BOTTOM, CONTAINER)
            jumped = self.jump(position, instruction, then)
            pop()
            return jumped + then(following)
        if name == "BINARY_OP":
            right, left = pop(), pop()
            self.need(right, INERT)
            self.need(left, INERT)
            tagged = (VAR, CONST, ITEM, BINOP)
            if arg in INT_OPS and type(left) is tuple and left[0] in tagged and type(right) is tuple and right[0] in tagged:
                stack.append((BINOP, arg, left, right))  # `i - 1` in `xs[i - 1]`: see resolve
            else:
                stack.append(_INERT)
            return then(following)
        if name in ("BUILD_SET", "BUILD_MAP"):
            items = [pop() for _ in range(arg * (2 if name == "BUILD_MAP" else 1))]
            for key in (items[1::2] if name == "BUILD_MAP" else items):
                self.need(key, INERT)  # hashed
            stack.append(_UNKNOWN)
            return then(following)
        if name == "BUILD_CONST_KEY_MAP":
            pop()  # the keys: a constant tuple
            for _ in range(arg):
                pop()
            stack.append(_UNKNOWN)
            return then(following)
        if name in ("SET_UPDATE", "SET_ADD"):
            self.need(pop(), INERT)  # `{1, 2, 3}`: a constant frozenset
            return then(following)
        if name == "MAP_ADD":
            pop()
            self.need(pop(), INERT)
            return then(following)
        if name in ("COMPARE_OP", "IS_OP"):
            right, left = pop(), pop()
            if name == "COMPARE_OP":
                self.need(right, INERT)
                self.need(left, INERT)
            stack.append(_INERT)
            return then(following)
        if name in UNARY or name == "TO_BOOL":
            self.need(pop(), CONTAINER if name in ("UNARY_NOT", "TO_BOOL") else INERT)
            stack.append(_INERT)
            return then(following)
        if name == "CONTAINS_OP":
            container, item = pop(), pop()
            self.need(item, INERT)
            self.need(container, CONTAINER)
            stack.append(_INERT)
            return then(following)
        if name in ("BINARY_SUBSCR", "BINARY_SLICE"):
            keys = [pop()] if name == "BINARY_SUBSCR" else [pop(), pop()]
            for key in keys:
                self.need(key, INERT)
            container = pop()
            self.need(container, CONTAINER)
            if container == _INERT or (type(container) is tuple and container[0] == CONST):
                stack.append(_INERT)
            elif name == "BINARY_SUBSCR" and type(container) is tuple and container[0] in (VAR, ITEM) \
                    and type(keys[0]) is tuple and keys[0][0] in (VAR, ITEM, CONST, BINOP):
                stack.append((ITEM, container, keys[0]))  # checked through `resolve` where needed
            else:
                stack.append(_UNKNOWN)
            return then(following)
        if name == "GET_LEN":
            self.need(stack[-1] if stack else _BOTTOM, CONTAINER)
            stack.append(_INERT)
            return then(following)
        if name == "GET_ITER":
            iterable = pop()
            self.need(iterable, CONTAINER)
            stack.append(_ITER)
            return then(following)
        if name == "FOR_ITER":
            if not stack:
                # The iterator was made before this step began: by a step that checked it, or not.
                self.requirements.add((LOOP, None, instruction.offset))
            elif stack[-1] == _ITER:
                self.enters.add(instruction.offset)
            elif type(stack[-1]) is tuple and stack[-1][0] == VAR:
                self.requirements.add((ITERATOR, stack[-1], None))
            else:
                raise _Unsafe()
            exhausted = self.by_offset.get(instruction.argval)
            if exhausted is not None and line_of(self.instructions[exhausted]) == self.line:
                if sys.version_info >= (3, 12):
                    raise _Unsafe()  # where the exhausted iterator goes (END_FOR) changed in 3.12
                iterator = pop()
                exhausted_states = then(exhausted)  # 3.11 pops the exhausted iterator
                stack.append(iterator)
            else:
                exhausted_states = []
            stack.append(_UNKNOWN)
            return exhausted_states + then(following)
        if name in ("UNPACK_SEQUENCE", "UNPACK_EX"):
            sequence = pop()
            count = arg if name == "UNPACK_SEQUENCE" else (arg & 0xFF) + 1 + (arg >> 8)
            if type(sequence) is tuple and sequence[0] == TUPLE and name == "UNPACK_SEQUENCE" and len(sequence[1]) == count:
                stack.extend(reversed(sequence[1]))
                return then(following)
            self.need(sequence, CONTAINER)
            stack.extend([_INERT if sequence == _INERT else _UNKNOWN] * count)
            return then(following)
        if name == "BUILD_TUPLE":
            items = [pop() for _ in range(arg)][::-1]
            stack.append((TUPLE, tuple(items)))
            return then(following)
        if name == "BUILD_LIST":
            for _ in range(arg):
                pop()
            stack.append(_UNKNOWN)
            return then(following)
        if name == "BUILD_SLICE":
            for _ in range(arg):
                self.need(pop(), INERT)
            stack.append(_SLICE)  # indexing with a slice of ints runs no foreign code
            return then(following)
        if name in ("STORE_SUBSCR", "DELETE_SUBSCR"):
            key, container = pop(), pop()
            self.need(key, INERT)
            if name == "STORE_SUBSCR":
                value = pop()
                if key == _SLICE:
                    self.need(value, CONTAINER)  # a slice store iterates the value
            if not (type(container) is tuple and container[0] in (VAR, ITEM)):
                raise _Unsafe()
            self.requirements.add((TARGET, container, _STORE_TARGETS))
            return then(following)
        if name == "LOAD_METHOD" or (name == "LOAD_ATTR" and sys.version_info >= (3, 12) and arg & 1):
            container = pop()
            if instruction.argval not in _CONTAINER_METHODS or not (type(container) is tuple and container[0] in (VAR, ITEM)):
                raise _Unsafe()
            stack.append(_NULL)  # where the method and its self go, the call below needs one NULL-or-self slot
            stack.append((_METHOD, container, instruction.argval))
            return then(following)
        if name == "BUILD_STRING":
            for _ in range(arg):
                self.need(pop(), INERT)
            stack.append(_INERT)
            return then(following)
        if name in ("FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE"):
            if name == "FORMAT_WITH_SPEC" or (name == "FORMAT_VALUE" and arg & 0x04):
                self.need(pop(), INERT)
            self.need(pop(), INERT)
            stack.append(_INERT)
            return then(following)
        if name == "LIST_APPEND":
            pop()
            return then(following)
        if name == "LIST_EXTEND":
            self.need(pop(), INERT)  # a constant tuple: `[1, 2, 3, 4]`
            return then(following)
        if name == "LIST_TO_TUPLE":
            pop()
            stack.append(_UNKNOWN)
            return then(following)
        if name in ("CALL", "PRECALL_CALL"):
            return self.call(instruction, stack, pop, then, following)
        raise _Unsafe()

    def call(self, instruction, stack, pop, then, following):
        """A call runs code, except a builtin of PURE_BUILTINS on inert arguments."""
        arguments = [pop() for _ in range(instruction.arg)]
        pair = (pop(), pop())
        if _NULL not in pair:
            raise _Unsafe()
        callee = pair[0] if pair[1] == _NULL else pair[1]
        if type(callee) is tuple and callee[0] == _METHOD:
            types, argument_kind, most, result = _CONTAINER_METHODS[callee[2]]
            if len(arguments) > most:
                raise _Unsafe()
            if argument_kind is not None:
                for argument in arguments:
                    self.need(argument, argument_kind)
            self.requirements.add((TARGET, callee[1], types))
            stack.append(result)
            return then(following)
        if not (type(callee) is tuple and callee[0] == VAR and callee[1] != LOCAL and callee[2] in PURE_BUILTINS):
            raise _Unsafe()
        self.requirements.add((BUILTIN, callee, PURE_BUILTINS[callee[2]]))
        for argument in arguments:
            self.need(argument, CONTAINER if callee[2] == "len" else INERT)
        stack.append(_INERT)
        return then(following)

    def jump(self, position, instruction, then):
        target = self.by_offset.get(instruction.argval)
        if target is None:
            raise _Unsafe()
        if instruction.argval <= instruction.offset and position != self.by_offset.get(self.start):
            return []  # a backward jump fires a line event: the step ends there
        # A step that opens at the backward jump itself (Python 3.14 fires the loop's line event there,
        # 3.11 at the jump's target) runs on through the target: the loop header's FOR_ITER and, once
        # the iterator is exhausted, whatever follows it on the line (a comprehension's store).
        return then(target)


def plan_step(instructions, by_offset, floating, loop_entries, offset, line):
    """The Plan of the step opened at `offset` of `line` (see the module docstring).
    `loop_entries`: {position of a GET_ITER: offset of the FOR_ITER it feeds}."""
    may_enter = frozenset(
        loop_entries[position] for position in reachable(instructions, by_offset, offset, line) if position in loop_entries)
    walk = _Walk(instructions, by_offset, offset, line)
    try:
        walk.run()
    except _Unsafe:
        return Plan(None, (), frozenset(), may_enter)
    names = tuple(sorted(walk.names.union(floating)))
    return Plan(names, tuple(sorted(walk.requirements, key=repr)), frozenset(walk.enters), may_enter)
