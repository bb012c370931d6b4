import { LoggerService } from '@nestjs/common';
import { trace } from '@opentelemetry/api';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

/** Where log lines go; stdout by default, swappable in tests. */
export type LogSink = (line: string) => void;

/**
 * Structured JSON logs, one object per line: ts, level, service, msg, the active trace id, fields.
 * Also Nest's LoggerService, so the framework's own messages come out the same way.
 */
export class Logger implements LoggerService {
  constructor(
    readonly service: string,
    private readonly level: LogLevel = 'info',
    private readonly sink: LogSink = (line) => process.stdout.write(line),
    private readonly bound: LogFields = {},
  ) {}

  child(fields: LogFields): Logger {
    return new Logger(this.service, this.level, this.sink, { ...this.bound, ...fields });
  }

  debug(msg: string, fields?: LogFields | string): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: LogFields | string): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields | string): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields | string, context?: string): void {
    this.write('error', msg, typeof fields === 'string' ? { stack: fields, context } : fields);
  }

  // Nest's LoggerService surface: log/verbose with an optional context string.
  // Nest's own lifecycle chatter (module init, route mapping) is debug detail here.
  log(msg: string, context?: string): void { this.write('debug', String(msg), context); }
  verbose(msg: string, context?: string): void { this.write('debug', String(msg), context); }
  fatal(msg: string, context?: string): void { this.write('error', String(msg), context); }

  private write(level: LogLevel, msg: string, fields?: LogFields | string): void {
    if (RANK[level] < RANK[this.level]) return;
    const span = trace.getActiveSpan()?.spanContext();
    const extra = typeof fields === 'string' ? { context: fields } : fields;
    const record: LogFields = {
      ts: new Date().toISOString(),
      level,
      service: this.service,
      msg,
      ...(span && span.traceId !== '00000000000000000000000000000000' ? { trace_id: span.traceId, span_id: span.spanId } : {}),
      ...this.bound,
      ...extra,
    };
    this.sink(`${safeStringify(record)}\n`);
  }
}

function safeStringify(record: LogFields): string {
  try {
    return JSON.stringify(record, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : typeof v === 'bigint' ? String(v) : v));
  } catch {
    return JSON.stringify({ ts: record.ts, level: record.level, service: record.service, msg: record.msg, note: 'fields not serialisable' });
  }
}
