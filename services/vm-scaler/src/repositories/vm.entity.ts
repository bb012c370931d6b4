import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Capacity nodes (VMs, Slurm jobs, local processes) and their last known state. */
@Entity({ name: 'vms' })
export class VmEntity {
  @PrimaryColumn({ name: 'vm_id', type: 'text' })
  vmId!: string;

  @Column({ type: 'text' })
  provider!: string;

  @Column({ name: 'vm_type', type: 'text' })
  vmType!: string;

  @Column({ type: 'text', nullable: true })
  model!: string | null;

  @Column({ type: 'text' })
  state!: string;

  @Column({ name: 'state_since', type: 'timestamptz', nullable: true })
  stateSince!: Date | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'requested_at', type: 'timestamptz' })
  requestedAt!: Date;

  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true })
  readyAt!: Date | null;

  @Column({ name: 'stopped_at', type: 'timestamptz', nullable: true })
  stoppedAt!: Date | null;
}
