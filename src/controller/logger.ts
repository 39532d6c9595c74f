/**
 * JSON logs (pino), one object per line on stderr, as controller-runtime's zap logger writes
 * them: level, time, message and fields.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: 'info' | 'debug'): Logger {
  return pino(
    {
      level,
      base: { logger: 'vpc-resource-controller' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination(2),
  );
}
