import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
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

/** Files as plain files in one local directory (`GATEWAY_FILE_STORE_DIR`). */
export class LocalFileStore implements FileStore {
  private ready?: Promise<unknown>;

  constructor(private readonly dir: string) {}

  private path(id: string): string {
    checkId(id);
    return join(this.dir, id);
  }

  async put(id: string, data: Buffer): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    // Write then rename: a reader never sees half a file.
    const tmp = `${this.path(id)}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, this.path(id));
  }

  get(id: string): Promise<Buffer> {
    return readFile(this.path(id));
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}

/**
 * Files in the namespace's NATS object store (`batch-files`), which every gateway reaches, so a file
 * uploaded to one gateway is read by whichever executes or serves it. A file only on this gateway's
 * local directory (written before the store was shared) is read from there and copied in.
 */
export class SharedFileStore implements FileStore {
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly bus: MessageBus,
    private readonly local: LocalFileStore,
  ) {}

  private objects(): Promise<ObjectStore> {
    this.store ??= this.bus.objectStore('batch-files').catch((err) => {
      this.store = undefined;
      throw err;
    });
    return this.store;
  }

  async put(id: string, data: Buffer): Promise<void> {
    checkId(id);
    await (await this.objects()).putBlob({ name: id }, data);
  }

  async get(id: string): Promise<Buffer> {
    checkId(id);
    const objects = await this.objects();
    const blob = await objects.getBlob(id);
    if (blob) return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    // Not in the store: a file from before it was shared (ENOENT from here when it is nowhere).
    const data = await this.local.get(id);
    await objects.putBlob({ name: id }, data);
    await this.local.delete(id);
    return data;
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    const objects = await this.objects();
    if (await objects.info(id)) await objects.delete(id);
    await this.local.delete(id);
  }
}

function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`invalid file id "${id}"`);
}
