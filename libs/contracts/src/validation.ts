import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { MESSAGE_KINDS, MessageName } from './subjects';
import { MessageTypes, ReplyTypes } from './messages';

const ID_BASE = 'https://open-maas.org/proto/';

/** proto/ sits at the repository root, above both src/ (tests) and dist/ (running services). */
function findProtoDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, 'worker'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`proto/ not found above ${__dirname}`);
  }
}

function* schemaFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* schemaFiles(full);
    else if (entry.name.endsWith('.schema.json')) yield full;
  }
}

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

/** Compiled validators for every message of proto/; build once per process. */
export class MessageValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });
  private readonly bySchema = new Map<string, ValidateFunction>();

  constructor(protoDir = findProtoDir()) {
    addFormats(this.ajv);
    for (const file of schemaFiles(protoDir)) {
      this.ajv.addSchema(JSON.parse(fs.readFileSync(file, 'utf8')));
    }
  }

  private compiled(schemaKey: string): ValidateFunction {
    let fn = this.bySchema.get(schemaKey);
    if (!fn) {
      fn = this.ajv.getSchema(`${ID_BASE}${schemaKey}.schema.json`);
      if (!fn) throw new Error(`no schema ${schemaKey} under proto/`);
      this.bySchema.set(schemaKey, fn);
    }
    return fn;
  }

  private check<T>(schemaKey: string, value: unknown): Validation<T> {
    const fn = this.compiled(schemaKey);
    if (fn(value)) return { ok: true, value: value as T };
    const error = (fn.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    return { ok: false, error };
  }

  /** Validates the payload of a message (request or event) by its logical name. */
  message<N extends MessageName>(name: N, value: unknown): Validation<MessageTypes[N]> {
    return this.check(MESSAGE_KINDS[name].schema, value);
  }

  /** Validates the reply to a command. */
  reply<N extends keyof ReplyTypes>(name: N, value: unknown): Validation<ReplyTypes[N]> {
    const spec = MESSAGE_KINDS[name] as { reply?: string };
    if (!spec.reply) throw new Error(`${name} is not a command`);
    return this.check(spec.reply, value);
  }

  /** Parses JSON bytes and validates them; never throws on bad input. */
  decode<N extends MessageName>(name: N, data: Uint8Array): Validation<MessageTypes[N]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch (err) {
      return { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
    return this.message(name, parsed);
  }
}

let shared: MessageValidator | undefined;
/** The process-wide validator (schemas compiled once). */
export function messageValidator(): MessageValidator {
  shared ??= new MessageValidator();
  return shared;
}
