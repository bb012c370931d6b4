import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A person known through single sign-on (upserted at each login). */
@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryColumn({ name: 'user_id', type: 'text' })
  userId!: string;

  @Column({ type: 'text', unique: true })
  email!: string;

  @Column({ name: 'display_name', type: 'text', nullable: true })
  displayName!: string | null;

  @Column({ type: 'text', nullable: true })
  eppn!: string | null;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  roles!: string[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  affiliations!: string[];

  @Column({ name: 'idp_entity_id', type: 'text', nullable: true })
  idpEntityId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt!: Date | null;

  /** Set by an administrator: no login, no sessions. */
  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;
}
