import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ScalingDecided, ScalingDecisionListReply, ScalingDecisionListRequest } from '@maas/contracts';

const DEFAULT_LIMIT = 100;
/** A page stops before its decisions pass this many bytes of JSON: half of NATS's default 1 MiB payload limit. */
const PAGE_BYTES = 512 * 1024;

/** Thrown for a cursor this repository did not give out. */
export class InvalidCursorError extends Error {}

/** Where a page ended: the last decision's time (as PostgreSQL prints it, microseconds kept) and id. */
interface Position {
  decidedAt: string;
  decisionId: string;
}

/** decided_at as PostgreSQL prints timestamptz (`2026-12-07 03:30:00.123456+00`). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

const encodeCursor = (p: Position): string => Buffer.from(JSON.stringify([p.decidedAt, p.decisionId]), 'utf8').toString('base64url');

function decodeCursor(cursor: string): Position {
  try {
    const [decidedAt, decisionId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof decidedAt === 'string' && typeof decisionId === 'string' && TIMESTAMP.test(decidedAt)) return { decidedAt, decisionId };
  } catch {
    // falls through to the refusal
  }
  throw new InvalidCursorError(`cursor "${cursor.slice(0, 40)}" is not one vm-scaler.list-decisions gave out`);
}

/**
 * The recorded decisions (`scaling_decisions`) read back in pages, oldest first, for operators
 * (`maas scaling explain|replay --db`), who ask over NATS (`vm-scaler.list-decisions`) instead of reading the table.
 */
@Injectable()
export class ScalingDecisionHistoryRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async page(req: ScalingDecisionListRequest): Promise<ScalingDecisionListReply> {
    const limit = req.limit ?? DEFAULT_LIMIT;
    const after = req.cursor ? decodeCursor(req.cursor) : undefined;
    // Keyset paging on (decided_at, decision_id): a long range never sits in memory, and a page is one index range.
    const rows = (await this.db.query(
      `SELECT decision_id, stage, model, decided_at, decided_at::text AS position, inputs, decision, reasons
         FROM scaling_decisions
        WHERE decided_at >= $1 AND decided_at <= $2
          AND ($3::timestamptz IS NULL OR (decided_at, decision_id) > ($3::timestamptz, $4::text))
          AND ($5::text IS NULL OR model = $5 OR decision->'replicas' ? $5 OR decision->'capacity'->'models' ? $5)
        ORDER BY decided_at, decision_id
        LIMIT $6`,
      [new Date(req.since), new Date(req.until), after?.decidedAt ?? null, after?.decisionId ?? '', req.model ?? null, limit + 1],
    )) as {
      decision_id: string;
      stage: ScalingDecided['stage'];
      model: string | null;
      decided_at: Date;
      position: string;
      inputs: ScalingDecided['inputs'];
      decision: ScalingDecided['decision'];
      reasons: string[];
    }[];
    const decisions: ScalingDecided[] = [];
    let bytes = 0;
    let last: Position | undefined;
    for (const r of rows.slice(0, limit)) {
      const d: ScalingDecided = {
        decisionId: r.decision_id,
        stage: r.stage,
        model: r.model,
        decidedAt: r.decided_at.toISOString(),
        inputs: r.inputs,
        decision: r.decision,
        reasons: r.reasons,
      };
      bytes += Buffer.byteLength(JSON.stringify(d));
      if (decisions.length > 0 && bytes > PAGE_BYTES) break;
      decisions.push(d);
      last = { decidedAt: r.position, decisionId: r.decision_id };
    }
    const more = decisions.length < rows.length;
    return { decisions, nextCursor: more && last ? encodeCursor(last) : null };
  }
}
