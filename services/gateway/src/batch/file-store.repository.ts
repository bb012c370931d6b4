import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

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
    if (!SAFE_ID.test(id)) throw new Error(`invalid file id "${id}"`);
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
