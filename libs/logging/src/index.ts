import { LoggerService } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { DestinationStream, Logger as Pino } from 'pino';
import { redactFields, redactText } from './redact';

export { isSecretKey, redactFields, redactText, REDACTED } from './redact';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `LOG_LEVEL` as written in the environment; anything unknown (or unset) is `fallback`. */
export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  const v = value?.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v ?? '') ? (v as LogLevel) : fallback;
}

export type LogFields = Record<string, unknown>;

/** Where log lines go; stdout by default, swappable in tests. Receives one JSON line ending in `\n`. */
export type LogSink = (line: string) => void;

/**
 * Structured JSON logs through pino, one object per line: ts, level, service, msg, the active
 * trace_id/span_id, then the fields — with API keys, credentials, session tokens, passwords, secrets
 * and SAML responses redacted (see ./redact). Also Nest's LoggerService, so the framework's own
 * messages come out the same way.
 */
export class Logger implements LoggerService {
  private readonly pino: Pino;

  constructor(
    readonly service: string,
    level: LogLevel = 'info',
    sink?: LogSink,
    bound: LogFields = {},
    /** internal: the parent's pino logger when this is a child */
    parent?: Pino,
  ) {
    const root = parent ?? createPino(service, level, sink ? { write: sink } : stdoutDestination());
    this.pino = Object.keys(bound).length ? root.child(redactFields(bound)) : root;
  }

  get level(): LogLevel {
    return this.pino.level as LogLevel;
  }

  child(fields: LogFields): Logger {
    return new Logger(this.service, this.level, undefined, fields, this.pino);
  }

  debug(msg: string, fields?: LogFields | string): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields | string): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields | string): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields | string, context?: string): void {
    this.write('error', msg, typeof fields === 'string' ? { stack: fields, context } : fields);
  }

  // Nest's LoggerService surface: log/verbose with an optional context string.
  // Nest's own lifecycle chatter (module init, route mapping) is debug detail here.
  log(msg: string, context?: string): void {
    this.write('debug', msg, context);
  }
  verbose(msg: string, context?: string): void {
    this.write('debug', msg, context);
  }
  fatal(msg: string, context?: string): void {
    this.write('error', msg, context);
  }

  private write(level: 'debug' | 'info' | 'warn' | 'error', msg: unknown, fields?: LogFields | string): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const text = redactText(typeof msg === 'string' ? msg : msg instanceof Error ? msg.message : String(msg));
    if (fields === undefined) this.pino[level](text);
    else this.pino[level](redactFields(typeof fields === 'string' ? { context: fields } : fields), text);
  }
}

function createPino(service: string, level: LogLevel, stream: DestinationStream): Pino {
  return pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      serializers: {}, // fields arrive already made JSON-ready (and redacted) by redactFields
      mixin() {
        const span = trace.getActiveSpan()?.spanContext();
        return span && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {}; // pino merges the call's fields into this object
      },
    },
    stream,
  );
}

let stdout: (pino.DestinationStream & { flushSync(): void }) | undefined;

/**
 * One asynchronous destination on fd 1 shared by every logger of the process: each line is handed to
 * the kernel as soon as the previous write completes (no batching, so lines appear promptly), and what
 * is still queued is written synchronously when the process exits or is told to stop.
 */
function stdoutDestination(): DestinationStream {
  if (stdout) return stdout;
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  dest.on('error', () => undefined); // stdout gone (EPIPE): nothing left to log to
  stdout = dest;
  process.on('exit', flushLogs);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      flushLogs();
      // Alone on this signal: restore its default (terminate) instead of swallowing it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.prependListener(signal, onSignal);
  }
  return dest;
}

/** Writes out every queued log line now (synchronously). Safe to call at any time. */
export function flushLogs(): void {
  try {
    stdout?.flushSync();
  } catch {
    // not ready or already closed: nothing can be written
  }
}
