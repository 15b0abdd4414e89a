/** Severity levels of the session logger, from most to least verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Logger used by the session and handed to plugins. Plugins report through
 * it (or through telemetry) and never call `console` themselves.
 */
export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * Creates a logger that writes to the console at `level` and above, with a
 * `[gradhooks]` prefix. The default level is `warn`.
 */
export function createConsoleLogger(level: LogLevel = 'warn'): Logger {
  const threshold = levelRank[level];
  const write = (at: Exclude<LogLevel, 'silent'>, message: string, details?: Record<string, unknown>) => {
    if (levelRank[at] < threshold) {
      return;
    }
    const line = details === undefined ? `[gradhooks] ${message}` : `[gradhooks] ${message} ${JSON.stringify(details)}`;
    if (at === 'error') {
      console.error(line);
    } else if (at === 'warn') {
      console.warn(line);
    } else {
      console.log(line);
    }
  };
  return {
    debug: (message, details) => write('debug', message, details),
    info: (message, details) => write('info', message, details),
    warn: (message, details) => write('warn', message, details),
    error: (message, details) => write('error', message, details),
  };
}

/** Creates a logger that prefixes every message with a plugin name. */
export function prefixLogger(logger: Logger, prefix: string): Logger {
  return {
    debug: (message, details) => logger.debug(`${prefix}: ${message}`, details),
    info: (message, details) => logger.info(`${prefix}: ${message}`, details),
    warn: (message, details) => logger.warn(`${prefix}: ${message}`, details),
    error: (message, details) => logger.error(`${prefix}: ${message}`, details),
  };
}
