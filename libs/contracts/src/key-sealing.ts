import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  KeyObject,
  randomBytes,
} from 'node:crypto';

/**
 * A new API key's way back to its creator without crossing NATS in clear. The creator (`maas keys
 * create`, the portal) makes a one-time X25519 key pair and names its public half in
 * key-registry.create (`sealTo`); key-registry answers with the key sealed to it: an X25519 exchange
 * with a one-time key of its own, HKDF-SHA-256, AES-256-GCM. Only the holder of the private half,
 * which never leaves the creating process, can open it.
 *
 * On the wire: `sealed-v1.<one-time public key>.<nonce>.<ciphertext and tag>`, each base64url.
 */
const SEALED = /^sealed-v1\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;
const INFO = Buffer.from('maas-key-seal-v1');

/** The pattern of `sealTo`: a raw X25519 public key, base64url. */
export const SEAL_TO = /^[A-Za-z0-9_-]{43}$/;

export interface SealingKeys {
  /** Goes in key-registry.create. */
  readonly sealTo: string;
  /** Stays with the creator; opens the reply. */
  readonly privateKey: KeyObject;
}

export function newSealingKeys(): SealingKeys {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { sealTo: publicKey.export({ format: 'jwk' }).x!, privateKey };
}

const publicKeyOf = (x: string): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });

function aeadKey(shared: Buffer, senderX: string, recipientX: string): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.from(`${senderX}.${recipientX}`), INFO, 32));
}

/** Seals a secret to `sealTo` (key-registry's side). Throws when `sealTo` is not an X25519 public key. */
export function sealSecret(secret: string, sealTo: string): string {
  if (!SEAL_TO.test(sealTo)) throw new Error('sealTo is not a base64url X25519 public key');
  const recipient = publicKeyOf(sealTo);
  const own = generateKeyPairSync('x25519');
  const ownX = own.publicKey.export({ format: 'jwk' }).x!;
  const key = aeadKey(diffieHellman({ privateKey: own.privateKey, publicKey: recipient }), ownX, sealTo);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `sealed-v1.${ownX}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
}

/** Whether a KeyCreated `secret` is sealed (rather than a key sent in clear, as to a creator that named no `sealTo`). */
export function isSealed(secret: string): boolean {
  return SEALED.test(secret);
}

/** Opens what `sealSecret` made for these keys; throws when it was sealed to other keys or altered. */
export function openSealedSecret(sealed: string, keys: SealingKeys): string {
  const m = SEALED.exec(sealed);
  if (!m) throw new Error('not a sealed key');
  const [, senderX, nonce, body] = m;
  const key = aeadKey(diffieHellman({ privateKey: keys.privateKey, publicKey: publicKeyOf(senderX) }), senderX, keys.sealTo);
  const bytes = Buffer.from(body, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
}
