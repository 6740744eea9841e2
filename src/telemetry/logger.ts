import { pino, type Logger as PinoLogger } from 'pino';
import { logTraceFields } from './otel.js';

export type Logger = PinoLogger;

// Header and field names that may carry credentials; pino replaces them before writing.
const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-slack-signature"]',
  'req.headers["x-pagerduty-signature"]',
  'req.headers["x-quench-signature"]',
  '*.password',
  '*.token',
  '*.secret',
];

export function createLogger(level: string, destination: 'stdout' | 'stderr' = 'stdout'): Logger {
  return pino(
    {
      level,
      base: { service: 'quench' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: '***' },
      formatters: { level: (label) => ({ level: label }) },
      // trace_id/span_id of the active span when tracing is on (OTEL_* variables): logs join their trace.
      mixin: logTraceFields,
    },
    pino.destination({ dest: destination === 'stdout' ? 1 : 2, sync: destination === 'stderr' }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
