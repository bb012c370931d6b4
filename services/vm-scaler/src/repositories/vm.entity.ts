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

  @Column({ type: 'text' })
  state!: string;

  @Column({ name: 'requested_at', type: 'timestamptz' })
  requestedAt!: Date;

  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true })
  readyAt!: Date | null;

  @Column({ name: 'stopped_at', type: 'timestamptz', nullable: true })
  stoppedAt!: Date | null;
}
