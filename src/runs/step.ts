/**
 * What one traced run of a program recorded, step by step. The executor produces it, the Avro
 * `ExecutionTrace`/`LineDiff` schemas carry it, the renderers print it.
 */

/** Why a step was recorded; the same four events as Python's line tracer. */
export type StepEvent = 'call' | 'line' | 'return' | 'exception';

/** How a variable differs from the previous snapshot of its frame. */
export type ChangeKind = 'new' | 'modified' | 'deleted';

export interface VariableChange {
  name: string;
  kind: ChangeKind;
  /** Bounded, address-free repr; null when the variable was deleted. */
  value: string | null;
}

export interface ExceptionInfo {
  /** Qualified type name, e.g. `ValueError` or `json.decoder.JSONDecodeError`. */
  type: string;
  message: string;
}

/**
 * One executed line of the program's own code (or a call into / return or exception out of one of
 * its functions). Steps are numbered in the order they started: a line that calls a function comes
 * before the steps of that call, and carries the changes seen once it finished, as snoop prints it.
 */
export interface Step {
  index: number;
  event: StepEvent;
  /** 1-based line number in the program's source. */
  line: number;
  /** 0 at module level, +1 per traced call. */
  depth: number;
  /** `co_qualname`-style name: `<module>`, `f`, `Cls.method`, `f.<locals>.<lambda>`, `<listcomp>`. */
  function: string;
  /** For `call`: the arguments, all `new`. For `line`: what that line changed in its frame. */
  changes: VariableChange[];
  /** For `return`: repr of the returned (or, for generators, yielded) value. */
  value: string | null;
  /** For `exception`: what was raised in this frame. For `return`: set when the frame was left by an exception. */
  exception: ExceptionInfo | null;
  /** Text the program wrote to stdout while this step was the innermost running one. */
  stdout: string;
}
