/** Server-rendered HTML: escaping, and the page shell every portal and auth page shares. */

/** Marks a string as already-safe HTML. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

type Part = Html | string | number | null | undefined | false | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof Html) return part.value;
  return escapeHtml(part);
}

/** Tagged template: interpolated values are escaped unless they are Html. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

export interface PageUser {
  displayName: string;
  email: string;
  isAdmin: boolean;
  csrfToken: string;
}

export interface PageOptions {
  title: string;
  user?: PageUser;
  /** Which nav entry is current. */
  current?: 'portal' | 'admin';
}

export function page(options: PageOptions, body: Html): string {
  const { user } = options;
  const nav = user
    ? html`<nav aria-label="Main">
        <ul>
          <li><a href="/portal" ${options.current === 'portal' ? new Html(' aria-current="page"') : ''}>Models &amp; keys</a></li>
          ${user.isAdmin ? html`<li><a href="/portal/admin" ${options.current === 'admin' ? new Html(' aria-current="page"') : ''}>Administration</a></li>` : ''}
        </ul>
        <form method="post" action="/auth/logout" class="signout">
          <input type="hidden" name="_csrf" value="${user.csrfToken}" />
          <span class="who">${user.displayName} <span class="muted">(${user.email})</span></span>
          <button type="submit" class="secondary">Sign out</button>
        </form>
      </nav>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · open-maas</title>
<link rel="stylesheet" href="/portal/assets/portal.css">
<script src="/portal/assets/portal.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <a class="brand" href="/portal">open-maas</a>
  ${nav}
</header>
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>
`;
}

/** Response headers for every HTML page: no framing, no inline script, nothing cached. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
};

const number = new Intl.NumberFormat('en');
export const formatNumber = (n: number): string => number.format(n);

/** "2026-01-31 14:05" in the given zone, or an em dash. */
export function formatTime(iso: string | Date | null | undefined, timeZone = 'UTC'): string {
  if (!iso) return '—';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(d);
  return parts.replace(',', '');
}
