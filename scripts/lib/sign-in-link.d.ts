// Types for sign-in-link.js, used by auth's tests and the quick start.

export function issueSignInLink(options: {
  file: string;
  publicUrl: string;
  email: string;
  displayName?: string | null;
  admin?: boolean;
  ttlMs: number;
  now?: number;
}): { url: string; expiresAt: Date };
