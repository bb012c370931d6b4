import { Inject, Injectable } from '@nestjs/common';
import { BatchEndpoint, BatchLine, lineBody, parseBatchInputAsync } from './batch-input';
import type { BatchRow } from './batch.repository';
import { FILE_STORE, FileStore } from './file-store.repository';

/** A batch's checked requests by line number; bodies are parsed from the file's bytes when one runs. */
export interface BatchInput {
  readonly lines: ReadonlyMap<number, BatchLine>;
  body(line: BatchLine): Record<string, unknown>;
}

/** Input files parsed at most once while their batch runs (input files never change); the newest few are kept. */
@Injectable()
export class BatchInputsService {
  private readonly inputs = new Map<string, Promise<BatchInput>>();

  constructor(@Inject(FILE_STORE) private readonly store: FileStore) {}

  get(batch: Pick<BatchRow, 'id' | 'inputFileId' | 'endpoint'>): Promise<BatchInput> {
    let p = this.inputs.get(batch.id);
    if (!p) {
      p = this.store.get(batch.inputFileId).then(async (data) => {
        const parsed = await parseBatchInputAsync(data, batch.endpoint as BatchEndpoint, () => undefined);
        return { lines: new Map(parsed.ok ? parsed.lines.map((l) => [l.line, l]) : []), body: (line: BatchLine) => lineBody(data, line) };
      });
      p.catch(() => this.inputs.delete(batch.id));
      this.inputs.set(batch.id, p);
      if (this.inputs.size > INPUT_CACHE) this.inputs.delete(this.inputs.keys().next().value!);
    }
    return p;
  }

  /** Requests per model of the batch. */
  async models(batch: Pick<BatchRow, 'id' | 'inputFileId' | 'endpoint'>): Promise<ReadonlyMap<string, number>> {
    const out = new Map<string, number>();
    for (const line of (await this.get(batch)).lines.values()) out.set(line.model, (out.get(line.model) ?? 0) + 1);
    return out;
  }

  forget(batchId: string): void {
    this.inputs.delete(batchId);
  }
}

const INPUT_CACHE = 16;
