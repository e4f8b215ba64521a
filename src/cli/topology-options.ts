import type { Settings } from '../config/settings.js';
import { limitsFromSettings, type ExecutorPoolOptions } from '../executor/index.js';
import type { Flags } from '../config/settings.js';
import { TracestreamError } from '../errors/index.js';
import type { DeliveryGuarantee } from '../kafka/index.js';

/** Executor pool options from the settings (concurrency, interpreter, sandbox uids, limits). */
export function poolOptionsFrom(settings: Settings): ExecutorPoolOptions {
  return {
    limits: limitsFromSettings(settings),
    sandboxUidBase: settings.sandboxUidBase,
    ...(settings.concurrency === undefined ? {} : { concurrency: settings.concurrency }),
    ...(settings.python === undefined ? {} : { python: settings.python }),
  };
}

/** `--exactly-once` switches the trace topology to Kafka transactions (see README, Delivery). */
export function guaranteeFrom(flags: Flags): DeliveryGuarantee {
  const value = flags['exactly-once'];
  if (value === undefined || value === false) return 'at-least-once';
  if (value === true || value === 'true') return 'exactly-once';
  throw new TracestreamError('CONFIG_INVALID', '--exactly-once takes no value');
}
