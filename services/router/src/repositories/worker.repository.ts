import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { WorkerRegistered } from '@maas/contracts';
import { WorkerEntity } from './worker.entity';
import type { RegisteredWorker } from '../policy/worker-registry';

/** Persists the registry's membership changes (not every heartbeat: those live in memory). */
@Injectable()
export class WorkerRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Insert or update in one statement, however many: after a reconnect a whole fleet re-announces at once. */
  async upsert(workers: readonly RegisteredWorker[]): Promise<void> {
    if (workers.length === 0) return;
    await this.db.getRepository(WorkerEntity).upsert(
      workers.map((worker) => ({
        workerId: worker.registration.workerId,
        registration: worker.registration,
        state: worker.state,
        load: worker.load ?? null,
        vmId: worker.registration.vmId,
        registeredAt: new Date(worker.registeredAt),
        lastSeenAt: new Date(worker.lastSeenAt),
        leftAt: null,
        leftReason: null,
      })),
      ['workerId'],
    );
  }

  async markLeft(workerId: string, reason: string, at: number, lastSeenAt: number): Promise<void> {
    await this.db
      .getRepository(WorkerEntity)
      .update({ workerId }, { state: 'gone', leftAt: new Date(at), leftReason: reason, lastSeenAt: new Date(lastSeenAt) });
  }

  /** Workers that had not left when the router last ran; they re-announce themselves when asked. */
  async active(): Promise<WorkerRegistered[]> {
    const rows = await this.db.getRepository(WorkerEntity).find({ where: { leftAt: undefined } });
    return rows.filter((r) => r.leftAt === null).map((r) => r.registration);
  }
}
