import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An AuthnRequest we sent and have not seen answered: the only responses we accept answer one of these, once. */
@Entity({ name: 'saml_requests' })
export class SamlRequestEntity {
  @PrimaryColumn({ name: 'request_id', type: 'text' })
  requestId!: string;

  @Column({ name: 'idp_entity_id', type: 'text' })
  idpEntityId!: string;

  /** Hash of the login-binding cookie of the browser that started the login. */
  @Column({ name: 'browser_hash', type: 'bytea' })
  browserHash!: Buffer;

  /** Local path to land on after login. */
  @Column({ name: 'return_to', type: 'text' })
  returnTo!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}

/** Assertion IDs already used to log in, kept until the assertion could no longer be accepted anyway. */
@Entity({ name: 'saml_assertions_seen' })
export class SeenAssertionEntity {
  @PrimaryColumn({ name: 'idp_entity_id', type: 'text' })
  idpEntityId!: string;

  @PrimaryColumn({ name: 'assertion_id', type: 'text' })
  assertionId!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
