"""The bytecode facts the line planner (line_plan) works from: which opcodes load, store, delete,
jump or end a step, which line an instruction belongs to, and per code object its instructions,
the names stored outside any line and the loops' entries. What a step may do with the values is
line_plan's simulation; this module knows only the instructions.
"""

import dis
import opcode
import sys

from line_plan_checks import GLOBAL, LOCAL, NAME

STORES = {"STORE_FAST", "STORE_NAME", "STORE_DEREF"}
DELETES = {"DELETE_FAST", "DELETE_NAME", "DELETE_DEREF"}
LOADS = {"LOAD_FAST": LOCAL, "LOAD_FAST_CHECK": LOCAL, "LOAD_DEREF": LOCAL, "LOAD_NAME": NAME, "LOAD_GLOBAL": GLOBAL}
NO_EFFECT = {"NOP", "RESUME", "CACHE", "EXTENDED_ARG", "KW_NAMES", "PRECALL", "MAKE_CELL", "COPY_FREE_VARS", "NOT_TAKEN"}
UNCONDITIONAL_JUMPS = {"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT"}
TRUTH_JUMPS = {name for name in opcode.opmap if name.startswith("POP_JUMP") and (name.endswith("_TRUE") or name.endswith("_FALSE"))}
NONE_JUMPS = {name for name in opcode.opmap if name.startswith("POP_JUMP") and name.endswith("NONE")}
ENDS = {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"}
UNARY = {"UNARY_NEGATIVE", "UNARY_NOT", "UNARY_INVERT", "UNARY_POSITIVE"}
NULL_AFTER_GLOBAL = sys.version_info >= (3, 13)
_JUMP_OPCODES = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


def line_of(instruction):
    positions = instruction.positions
    return positions.lineno if positions is not None else None


def stored_names(instruction):
    stored = instruction.argval
    return stored if isinstance(stored, tuple) else (stored,)


def reachable(instructions, by_offset, start, line):
    """Positions the step opened at `start` may run, whatever the values: the walk's control flow
    without its abstract values (used where the walk gave up)."""
    first = by_offset.get(start)
    pending = [first]
    seen = set()
    while pending:
        position = pending.pop()
        if position is None or position >= len(instructions) or position in seen:
            continue
        instruction = instructions[position]
        owner = line_of(instruction)
        if owner is not None and owner != line and position != first:
            continue
        seen.add(position)
        if instruction.opcode in _JUMP_OPCODES and (instruction.argval > instruction.offset or position == first):
            pending.append(by_offset.get(instruction.argval))
        if instruction.opname not in UNCONDITIONAL_JUMPS and instruction.opname not in ENDS:
            pending.append(position + 1)
    return seen


def analyse(code):
    """(instructions, by_offset, floating names, loop entries) of a code object: see line_plan.plan_step."""
    instructions = list(dis.get_instructions(code))
    by_offset = {instruction.offset: position for position, instruction in enumerate(instructions)}
    floating = set()
    loop_entries = {}
    for position, instruction in enumerate(instructions):
        if instruction.opname in STORES | DELETES | {"STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST", "LOAD_FAST_AND_CLEAR"} \
                and line_of(instruction) is None:
            names = instruction.argval if isinstance(instruction.argval, tuple) else (instruction.argval,)
            floating.update(names[:1] if instruction.opname == "STORE_FAST_LOAD_FAST" else names)
        if instruction.opname == "GET_ITER" and position + 1 < len(instructions) \
                and instructions[position + 1].opname == "FOR_ITER":
            loop_entries[position] = instructions[position + 1].offset
    return instructions, by_offset, tuple(floating), loop_entries
