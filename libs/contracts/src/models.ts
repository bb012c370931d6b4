/**
 * The one model label for usage whose model name is missing or unusable (a request that failed before
 * a valid name was read, an empty name, control characters): bounded, so bad input never mints labels.
 */
export const INVALID_MODEL = '<invalid>';

const MAX_MODEL_NAME = 256;
// C0 and C1 controls, DEL, and UTF-16 halves without their partner (which no database stores as sent).
const UNUSABLE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A model name the platform can store, label and route: 1–256 characters, no control characters, well-formed text. */
export function isUsableModelName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_MODEL_NAME && !UNUSABLE.test(name);
}
