/** One `tracestream <name>` sub-command. `run` resolves to the process exit status. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: readonly string[]): Promise<number>;
}
