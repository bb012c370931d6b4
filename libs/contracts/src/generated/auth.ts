/* Generated from proto/auth/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * An administrator disabled or enabled an account: key-registry stops (or lets work again) the keys of that e-mail address.
 */
export interface AccountStatusChanged {
  userId: string;
  email: string;
  disabled: boolean;
  /**
   * When the account was disabled; null once enabled
   */
  disabledAt: string | null;
  changedAt: string;
}

export interface UserSummary {
  /**
   * eduPersonPrincipalName when the IdP sends one, else the e-mail address
   */
  userId: string;
  email: string;
  displayName?: string | null;
  eppn?: string | null;
  roles: ('user' | 'admin')[];
  affiliations?: string[];
  idpEntityId?: string | null;
  createdAt: string;
  lastLoginAt?: string | null;
  disabledAt?: string | null;
  activeSessions?: number;
}

/**
 * Accounts disabled at `takenAt` (after `since` when one was asked), with when each was disabled.
 */
export interface DisabledAccountListReply {
  takenAt: string;
  accounts: {
    email: string;
    disabledAt: string;
  }[];
}

/**
 * Accounts disabled now; with `since`, only those disabled after it (a catch-up), else all of them (a resynchronisation).
 */
export interface DisabledAccountListRequest {
  since?: string;
}

/**
 * auth's answer: the session's user when it is active, the reason when not.
 */
export interface SessionVerifyReply {
  valid: boolean;
  reason?: 'unknown' | 'revoked' | 'expired' | 'idle' | 'disabled';
  sessionId?: string;
  expiresAt?: string;
  user?: {
    userId: string;
    email: string;
    displayName?: string | null;
    roles: ('user' | 'admin')[];
  };
}

/**
 * Ask auth who a browser session belongs to (the gateway does, before passing a user to Open WebUI). The cookie itself never crosses the bus: only sessionDigest(cookie) from @maas/contracts, base64url(SHA-256("maas-session-v1:" + cookie)).
 */
export interface SessionVerifyRequest {
  /**
   * sessionDigest(value of the session cookie)
   */
  tokenDigest: string;
}

export interface UserListReply {
  users: UserSummary[];
}

/**
 * List accounts, most recent login first; `user` narrows to one (id, e-mail or eppn).
 */
export interface UserListRequest {
  user?: string;
  limit?: number;
}

/**
 * One account, as auth answers auth.update-user.
 */
export interface UserReply {
  user: UserSummary;
}

/**
 * Disable or enable an account (id, e-mail or eppn), end its browser sessions (disabling ends them too), or link another IdP identity to it.
 */
export interface UserUpdateRequest {
  user: string;
  disabled?: boolean;
  endSessions?: boolean;
  /**
   * Lets this identity (an IdP and the eppn, subject-id or pairwise-id it sends) sign in to the account.
   */
  link?: {
    idpEntityId: string;
    subject: string;
  };
}
