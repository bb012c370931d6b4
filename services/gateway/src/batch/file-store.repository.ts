import { chmod, mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { ObjectStore } from 'nats';
import type { MessageBus } from '@maas/nats';

/** Where uploaded and generated files live; metadata is in PostgreSQL. */
export interface FileStore {
  put(id: string, data: Buffer): Promise<void>;
  get(id: string): Promise<Buffer>;
  delete(id: string): Promise<void>;
}

export const FILE_STORE = Symbol('FILE_STORE');

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Users' files are readable by the gateway's user alone. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Files as plain files in one local directory (`GATEWAY_FILE_STORE_DIR`), private to the gateway's user. */
export class LocalFileStore implements FileStore {
  private ready?: Promise<unknown>;

  constructor(private readonly dir: string) {}

  private path(id: string): string {
    checkId(id);
    return join(this.dir, id);
  }

  async put(id: string, data: Buffer): Promise<void> {
    // A directory made before (or by someone else) is narrowed too; the umask cannot widen either mode.
    this.ready ??= mkdir(this.dir, { recursive: true, mode: DIR_MODE }).then(() =>
      // A directory the gateway does not own stays as it is; the files in it are private all the same.
      chmod(this.dir, DIR_MODE).catch(() => undefined),
    );
    await this.ready;
    // Write then rename: a reader never sees half a file.
    const tmp = `${this.path(id)}.${process.pid}.tmp`;
    await writeFile(tmp, data, { mode: FILE_MODE });
    await chmod(tmp, FILE_MODE);
    await rename(tmp, this.path(id));
  }

  get(id: string): Promise<Buffer> {
    return readFile(this.path(id));
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}

/** One object-store call waits at most this long for the server. */
const OPERATION_TIMEOUT_MS = 5000;
/** A call failing for a reason that passes (a leader election, a reconnect) is tried again for this long. */
const RETRY_FOR_MS = 20_000;
const RETRY_PAUSE_MS = [250, 500, 1000, 2000];
/** What a client is told to wait when the store is still unavailable after that. */
const RETRY_AFTER_S = 5;

/** Errors of a cluster between leaders or a connection between servers: the same call can succeed later. */
export function transientStoreError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e.code === '503' ||
    e.code === 'TIMEOUT' ||
    e.code === 'DISCONNECT' ||
    e.code === 'CONNECTION_REFUSED' ||
    /timeout|timed out|no responders|503|leader|not available|temporarily|disconnect|reconnect|connection (closed|draining)|insufficient resources/i.test(
      e.message ?? '',
    )
  );
}

/**
 * Files in the namespace's NATS object store (`batch-files`, with the MAAS_JS_REPLICAS copies the bus
 * creates it with), which every gateway reaches, so a file uploaded to one gateway is read by
 * whichever executes or serves it. A file only on this gateway's local directory (written before the
 * store was shared) is read from there and copied in. While the cluster elects a new leader a call
 * is tried again; if the store stays unavailable the caller gets a 503 with `Retry-After`. A file is
 * visible only once all its chunks are stored (its metadata is written last), never half.
 */
export class SharedFileStore implements FileStore {
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly bus: MessageBus,
    private readonly local: LocalFileStore,
    private readonly retryForMs = RETRY_FOR_MS,
  ) {}

  private objects(): Promise<ObjectStore> {
    this.store ??= this.bus.objectStore('batch-files', { timeout: OPERATION_TIMEOUT_MS }).catch((err) => {
      this.store = undefined;
      throw err;
    });
    return this.store;
  }

  /** Runs `op` against the store, again after a transient failure until `retryForMs` has passed. */
  private async retrying<T>(what: string, op: (objects: ObjectStore) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await op(await this.objects());
      } catch (err) {
        if (!transientStoreError(err)) throw err;
        const pause = RETRY_PAUSE_MS[Math.min(attempt, RETRY_PAUSE_MS.length - 1)];
        if (performance.now() + pause >= deadline) {
          // Loaded when needed: batch.service imports this file for its providers.
          const { batchError } = await import('./batch.service');
          throw batchError(
            503,
            `the file store is unavailable (${what}: ${(err as Error).message}); nothing was stored or changed, retry after ${RETRY_AFTER_S} s`,
            'file_store_unavailable',
            null,
            { 'retry-after': String(RETRY_AFTER_S) },
          );
        }
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  async put(id: string, data: Buffer): Promise<void> {
    checkId(id);
    // A put that failed midway left no object: its chunks are purged or unreferenced, and trying again writes anew.
    await this.retrying('storing the file', (objects) => objects.putBlob({ name: id }, data));
  }

  async get(id: string): Promise<Buffer> {
    checkId(id);
    const blob = await this.retrying('reading the file', (objects) => objects.getBlob(id));
    if (blob) return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    // Not in the store: a file from before it was shared (ENOENT from here when it is nowhere).
    const data = await this.local.get(id);
    await this.retrying('storing the file', (objects) => objects.putBlob({ name: id }, data));
    await this.local.delete(id);
    return data;
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    await this.retrying('deleting the file', async (objects) => {
      if (await objects.info(id)) await objects.delete(id);
    });
    await this.local.delete(id);
  }
}

function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`invalid file id "${id}"`);
}
