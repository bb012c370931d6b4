'use strict';
// One-time sign-in links for auth (AUTH_SIGN_IN_LINK_FILE): the token goes into the printed link,
// only its SHA-256 into the file; auth deletes the file when the link is used.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** Writes a new link record (replacing any earlier one, which stops working) and returns the link. */
function issueSignInLink({ file, publicUrl, email, displayName = null, admin = false, ttlMs, now = Date.now() }) {
  const token = crypto.randomBytes(32).toString('base64url');
  const record = {
    tokenSha256: crypto.createHash('sha256').update(token).digest('hex'),
    email,
    displayName,
    admin,
    expiresAt: new Date(now + ttlMs).toISOString(),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written beside and renamed into place, so auth never reads half a record.
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  fs.renameSync(partial, file);
  return { url: `${publicUrl.replace(/\/+$/, '')}/auth/one-time/${token}`, expiresAt: new Date(record.expiresAt) };
}

module.exports = { issueSignInLink };
