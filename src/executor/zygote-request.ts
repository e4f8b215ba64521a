import type { ExecutionRequest, Limits } from '../runs/index.js';
import type { RunDir } from './run-dir.js';
import type { ZygoteRequest } from './worker.js';

/** Processes and threads one run may have (RLIMIT_NPROC on the slot's own uid). */
const RUN_PROCESSES = 64;
/** Caps of a boxed run's tmpfs: its work dir, /tmp and /dev/shm together. */
const RUN_DISK_BYTES = 64 * 1024 * 1024;
const RUN_DISK_FILES = 4096;

/**
 * What a slot's zygote is told of one run (its protocol: the header of python/server.py): the
 * child's settings and the run dir's paths, never the run's data, which the child reads after the fork.
 */
export function zygoteRequest(request: ExecutionRequest, limits: Limits, trace: boolean, runDir: RunDir, auditHook: boolean): ZygoteRequest {
  return {
    job: {
      filename: request.filename ?? 'main.py',
      trace,
      full_frame: request.compareWholeFrame ?? false,
      max_steps: limits.maxSteps,
      trace_bytes: limits.traceBytes,
      repr_chars: limits.reprChars,
      output_bytes: limits.outputBytes,
      wall_time_ms: limits.wallTimeMs,
      cpu_time_ms: limits.cpuTimeMs,
      audit_hook: auditHook,
    },
    source_path: runDir.sourcePath,
    run_dir: runDir.path,
    work_dir: runDir.workDir,
    stdin_path: runDir.stdinPath,
    rlimits: {
      address_space_bytes: limits.addressSpaceBytes,
      open_files: limits.openFiles,
      processes: RUN_PROCESSES,
      disk_bytes: Math.max(RUN_DISK_BYTES, limits.outputBytes + 1024 * 1024),
      disk_files: RUN_DISK_FILES,
    },
  };
}
