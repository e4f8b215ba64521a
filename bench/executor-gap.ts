/**
 * Where the traced pool's time goes against fresh interpreters, program by program: each program's
 * time from submission to result in both modes (the median of the rounds), summed by how the traced
 * run ended, and the programs that account for most of the difference.
 *
 * With `concurrency` runs at once and none queued, a mode's summed run time ÷ concurrency is about
 * its wall time; so a difference of sums ÷ concurrency is about what it moves the pass's seconds.
 */
import { median } from './median.js';
import type { Mode, Program, ProgramRun } from './executor-runs.js';

export interface GapInput {
  programs: readonly Program[];
  /** Every round's runs of each mode that ran, in program order. */
  runs: Partial<Record<Mode, ProgramRun[][]>>;
  concurrency: number;
  /** How many programs to list. */
  top: number;
}

export function printGap({ programs, runs, concurrency, top }: GapInput): void {
  const traced = runs.traced;
  const fresh = runs.fresh;
  if (traced === undefined || fresh === undefined) return;
  const untraced = runs.untraced;
  const ms = (rounds: ProgramRun[][], i: number) => median(rounds.map((round) => round[i]!.ms));
  const rows = programs.map((program, i) => {
    const first = traced[0]![i]!;
    return {
      id: program.id,
      outcome: first.outcome,
      steps: first.stepCount,
      tracedMs: ms(traced, i),
      tracedProcessMs: median(traced.map((round) => round[i]!.processMs)),
      freshMs: ms(fresh, i),
      freshOutcome: fresh[0]![i]!.outcome,
      untracedMs: untraced === undefined ? null : ms(untraced, i),
    };
  });
  const seconds = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / 1000;
  const s = (value: number) => value.toFixed(1);
  const tracedS = seconds(rows.map((r) => r.tracedMs));
  const freshS = seconds(rows.map((r) => r.freshMs));
  const slower = rows.filter((r) => r.tracedMs > r.freshMs);
  const lost = seconds(slower.map((r) => r.tracedMs - r.freshMs));
  const faster = rows.filter((r) => r.tracedMs <= r.freshMs);
  console.log(`gap, traced pool vs fresh interpreters, program by program (each run's time from submission to result, median of ${traced.length} rounds; `
    + `a sum ÷ ${concurrency} (concurrency) ≈ seconds of a pass):`);
  console.log(`  summed: traced ${s(tracedS)} s, fresh ${s(freshS)} s; traced - fresh ${s(tracedS - freshS)} s (≈ ${s((tracedS - freshS) / concurrency)} s of wall time)`);
  console.log(`  ${slower.length} programs slower traced, by ${s(lost)} s; `
    + `${faster.length} faster, by ${s(seconds(faster.map((r) => r.freshMs - r.tracedMs)))} s`);

  const perRun = (values: readonly number[]) => `median ${median(values).toFixed(1)} ms, sum ${s(seconds(values))} s`;
  console.log(`  outside the program's process (submission to result minus fork/spawn to exit): traced ${perRun(
    programs.map((_, i) => median(traced.map((round) => round[i]!.ms - round[i]!.processMs))))}; fresh ${perRun(
    programs.map((_, i) => median(fresh.map((round) => round[i]!.ms - round[i]!.processMs))))}`);

  const classes = new Map<string, typeof rows>();
  for (const row of rows) classes.set(row.outcome, [...(classes.get(row.outcome) ?? []), row]);
  console.log(`  by traced outcome (+trace-cut: steps missing, nearly always at the trace's byte cap):`);
  console.log(`    ${'outcome'.padEnd(22)} ${'runs'.padStart(5)} ${'traced s'.padStart(9)} ${'fresh s'.padStart(9)} ${'traced-fresh s'.padStart(15)}${untraced === undefined ? '' : ' untraced pool s'.padStart(16)}`);
  for (const [outcome, members] of [...classes].sort((a, b) => gapOf(b[1]) - gapOf(a[1]))) {
    const t = seconds(members.map((r) => r.tracedMs));
    const f = seconds(members.map((r) => r.freshMs));
    const u = untraced === undefined ? '' : s(seconds(members.map((r) => r.untracedMs!))).padStart(16);
    console.log(`    ${outcome.padEnd(22)} ${String(members.length).padStart(5)} ${s(t).padStart(9)} ${s(f).padStart(9)} ${s(t - f).padStart(15)}${u}`);
  }

  const worst = [...rows].sort((a, b) => (b.tracedMs - b.freshMs) - (a.tracedMs - a.freshMs)).slice(0, top).filter((r) => r.tracedMs > r.freshMs);
  const share = (100 * seconds(worst.map((r) => r.tracedMs - r.freshMs))) / Math.max(1e-9, lost);
  console.log(`  the ${worst.length} programs that cost most traced (${share.toFixed(0)}% of what the slower-traced programs lose):`);
  for (const r of worst) {
    const u = r.untracedMs === null ? '' : `; untraced pool ${s(r.untracedMs)} ms`;
    console.log(`    +${s(r.tracedMs - r.freshMs)} ms  ${r.id}: traced ${r.outcome} ${s(r.tracedMs)} ms (process ${s(r.tracedProcessMs)} ms, ${r.steps} steps) `
      + `vs fresh ${r.freshOutcome} ${s(r.freshMs)} ms${u}`);
  }
}

function gapOf(rows: readonly { tracedMs: number; freshMs: number }[]): number {
  return rows.reduce((sum, r) => sum + r.tracedMs - r.freshMs, 0);
}
