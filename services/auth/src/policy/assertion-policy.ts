/**
 * Whether a signature-verified SAML assertion may log someone in: issuer, destination, bearer
 * subject confirmation (recipient, InResponseTo, expiry), validity window and audience. Pure: the
 * caller passes `now`; one-time checks that need state (InResponseTo known, assertion not replayed)
 * are done by the caller with what this returns.
 */

export interface NameId {
  value: string;
  format: string | null;
  nameQualifier: string | null;
  spNameQualifier: string | null;
}

export interface BearerConfirmation {
  recipient: string | null;
  inResponseTo: string | null;
  notBefore: string | null;
  notOnOrAfter: string | null;
}

/** What was read from the Response envelope and from the verified assertion. */
export interface AssertionFacts {
  response: { issuer: string | null; destination: string | null; inResponseTo: string | null };
  assertionId: string | null;
  issuer: string | null;
  nameId: NameId | null;
  bearer: BearerConfirmation[];
  notBefore: string | null;
  notOnOrAfter: string | null;
  /** Audiences of each AudienceRestriction (every restriction must include us). */
  audienceRestrictions: string[][];
  sessionIndex: string | null;
  sessionNotOnOrAfter: string | null;
  attributes: Record<string, string[]>;
}

export interface AssertionExpectations {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  skewMs: number;
}

export type RejectReason =
  | 'malformed'
  | 'idp_status'
  | 'unknown_idp'
  | 'unsigned'
  | 'bad_signature'
  | 'signature_wrapping'
  | 'wrong_issuer'
  | 'wrong_destination'
  | 'no_bearer_confirmation'
  | 'wrong_recipient'
  | 'unsolicited'
  | 'in_response_to_mismatch'
  | 'unknown_in_response_to'
  | 'wrong_idp_for_request'
  | 'weak_algorithm'
  | 'browser_mismatch'
  | 'not_yet_valid'
  | 'expired'
  | 'wrong_audience'
  | 'replayed'
  | 'missing_attribute'
  | 'scope_mismatch'
  | 'not_entitled'
  | 'account_conflict'
  | 'identity_not_linked'
  | 'account_disabled';

export type AssertionVerdict =
  | { ok: true; assertionId: string; requestId: string; idp: string; notOnOrAfter: number }
  | { ok: false; reason: RejectReason; detail: string };

const reject = (reason: RejectReason, detail: string): AssertionVerdict => ({ ok: false, reason, detail });

const instant = (s: string | null): number | undefined => {
  if (s === null) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? Number.NaN : t;
};

type Check = { ok: true; notOnOrAfter: number; inResponseTo: string } | { ok: false; reason: RejectReason; detail: string };

function checkBearer(c: BearerConfirmation, e: AssertionExpectations, now: number): Check {
  if (c.recipient !== e.acsUrl)
    return { ok: false, reason: 'wrong_recipient', detail: `Recipient ${JSON.stringify(c.recipient)} is not ${e.acsUrl}` };
  const notOnOrAfter = instant(c.notOnOrAfter);
  if (notOnOrAfter === undefined || Number.isNaN(notOnOrAfter)) {
    return { ok: false, reason: 'malformed', detail: 'SubjectConfirmationData has no valid NotOnOrAfter' };
  }
  if (now - e.skewMs >= notOnOrAfter)
    return { ok: false, reason: 'expired', detail: `SubjectConfirmationData expired at ${c.notOnOrAfter}` };
  const notBefore = instant(c.notBefore);
  if (notBefore !== undefined && (Number.isNaN(notBefore) || now + e.skewMs < notBefore)) {
    return { ok: false, reason: 'not_yet_valid', detail: `SubjectConfirmationData not valid before ${c.notBefore}` };
  }
  if (!c.inResponseTo) return { ok: false, reason: 'unsolicited', detail: 'no InResponseTo: unsolicited responses are not accepted' };
  return { ok: true, notOnOrAfter, inResponseTo: c.inResponseTo };
}

export function checkAssertion(f: AssertionFacts, e: AssertionExpectations, now: number): AssertionVerdict {
  if (!f.assertionId) return reject('malformed', 'assertion has no ID');
  if (f.issuer !== e.idpEntityId) return reject('wrong_issuer', `assertion issuer ${JSON.stringify(f.issuer)} is not ${e.idpEntityId}`);
  if (f.response.issuer !== null && f.response.issuer !== e.idpEntityId) {
    return reject('wrong_issuer', `response issuer ${JSON.stringify(f.response.issuer)} is not ${e.idpEntityId}`);
  }
  if (f.response.destination !== null && f.response.destination !== e.acsUrl) {
    return reject('wrong_destination', `Destination ${JSON.stringify(f.response.destination)} is not ${e.acsUrl}`);
  }

  const notBefore = instant(f.notBefore);
  const notOnOrAfter = instant(f.notOnOrAfter);
  if (Number.isNaN(notBefore) || Number.isNaN(notOnOrAfter)) return reject('malformed', 'Conditions carry an unreadable time');
  if (notBefore !== undefined && now + e.skewMs < notBefore)
    return reject('not_yet_valid', `assertion not valid before ${f.notBefore} (skew ${e.skewMs} ms)`);
  if (notOnOrAfter !== undefined && now - e.skewMs >= notOnOrAfter)
    return reject('expired', `assertion expired at ${f.notOnOrAfter} (skew ${e.skewMs} ms)`);

  if (f.audienceRestrictions.length === 0) return reject('wrong_audience', 'assertion has no AudienceRestriction');
  const foreign = f.audienceRestrictions.find((audiences) => !audiences.includes(e.spEntityId));
  if (foreign) return reject('wrong_audience', `audience ${JSON.stringify(foreign)} does not include ${e.spEntityId}`);

  if (f.bearer.length === 0) return reject('no_bearer_confirmation', 'no bearer SubjectConfirmation');
  const checks = f.bearer.map((c) => checkBearer(c, e, now));
  const accepted = checks.find((c): c is Extract<Check, { ok: true }> => c.ok);
  if (!accepted) {
    const failed = checks[0] as Extract<Check, { ok: false }>;
    return reject(failed.reason, failed.detail);
  }
  if (f.response.inResponseTo !== null && f.response.inResponseTo !== accepted.inResponseTo) {
    return reject(
      'in_response_to_mismatch',
      `response answers ${f.response.inResponseTo} but the assertion answers ${accepted.inResponseTo}`,
    );
  }
  // The replay cache must remember the ID as long as any part of the assertion is still acceptable.
  const lastValid = Math.max(accepted.notOnOrAfter, notOnOrAfter ?? 0) + e.skewMs;
  return { ok: true, assertionId: f.assertionId, requestId: accepted.inResponseTo, idp: e.idpEntityId, notOnOrAfter: lastValid };
}
