import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { WorkerLoad, WorkerRegistered } from '@maas/contracts';

/** Inventory of workers: kept after they leave, so operators can see what ran where and when. */
@Entity({ name: 'workers' })
export class WorkerEntity {
  @PrimaryColumn({ name: 'worker_id', type: 'text' })
  workerId!: string;

  @Column({ type: 'jsonb' })
  registration!: WorkerRegistered;

  @Column({ type: 'text' })
  state!: string;

  @Column({ type: 'jsonb', nullable: true })
  load!: WorkerLoad | null;

  @Column({ name: 'vm_id', type: 'text' })
  vmId!: string;

  @Column({ name: 'registered_at', type: 'timestamptz' })
  registeredAt!: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt!: Date;

  @Column({ name: 'left_at', type: 'timestamptz', nullable: true })
  leftAt!: Date | null;

  @Column({ name: 'left_reason', type: 'text', nullable: true })
  leftReason!: string | null;
}
