import { hash } from 'node:crypto';
import type { SessionVerifyRequest } from './generated/auth';
import type { KeyVerifyRequest } from './generated/key';

/**
 * What crosses NATS in place of a credential: `base64url(SHA-256(<domain tag> + credential))`, 43
 * characters. The gateway computes it from the API key or session cookie a client presents and sends
 * only that; key-registry and auth store and look up by it. SHA-256 cannot be turned back into the
 * 256 random bits of a key or cookie, so a message seen on the bus cannot be presented as one. The
 * tag keeps a key's digest apart from a session's (and from a bare SHA-256 of the same text), and
 * its version names the scheme should it ever change.
 */
export const KEY_DIGEST_TAG = 'maas-key-v1:';
export const SESSION_DIGEST_TAG = 'maas-session-v1:';

/** The shape of a digest on the wire (the proto schemas use the same pattern). */
export const CREDENTIAL_DIGEST = /^[A-Za-z0-9_-]{43}$/;

// One-shot `hash` (no Hash object per call): a third of createHash's time for a key's few dozen bytes.
const digest = (tag: string, credential: string): string => hash('sha256', tag + credential, 'base64url');

/** Digest of an API key (`sk-<prefix>_<secret>`, whole), as key-registry.verify carries it. */
export function keyDigest(key: string): string {
  return digest(KEY_DIGEST_TAG, key);
}

/** Digest of a session cookie's value, as auth.verify-session carries it and auth stores it. */
export function sessionDigest(token: string): string {
  return digest(SESSION_DIGEST_TAG, token);
}

/** The visible part of `sk-<8-character prefix>_<secret>`: its length, not the first `_`, ends it (base64url may hold `_`). */
const KEY_SHAPE = /^sk-([A-Za-z0-9_-]{8})_[A-Za-z0-9_-]{8,}$/;

/** key-registry.verify for a presented key: its prefix and digest, never the key; undefined when it is not shaped like one. */
export function keyVerifyRequest(key: string): KeyVerifyRequest | undefined {
  const prefix = KEY_SHAPE.exec(key)?.[1];
  return prefix === undefined ? undefined : { prefix, digest: keyDigest(key) };
}

/** auth.verify-session for a session cookie's value. */
export function sessionVerifyRequest(token: string): SessionVerifyRequest {
  return { tokenDigest: sessionDigest(token) };
}
