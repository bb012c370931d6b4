import type { KeyCreated, KeySummary } from '@maas/contracts';
import type { AdminOverview, BatchView, Loaded, ModelView, PortalOverview } from '../services/portal.service';
import type { UsageDay } from '../policy/usage-series';
import { formatNumber, formatTime, html, Html, page, PageUser } from './html';
import { usageChart } from './usage-chart';

const unavailable = (l: Loaded<unknown>) => (l.ok ? '' : html`<p class="notice" role="status">${l.error}.</p>`);

function modelsTable(models: ModelView[]): Html {
  if (!models.length) return html`<p>No model is being served at the moment. Models appear here as soon as a worker registers.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      Models you can use
    </caption>
    <thead>
      <tr>
        <th scope="col">Model</th>
        <th scope="col">Can do</th>
        <th scope="col">Workers</th>
      </tr>
    </thead>
    <tbody>
      ${models.map(
        (m) =>
          html`<tr>
            <th scope="row"><code>${m.id}</code></th>
            <td>${m.capabilities.join(', ')}</td>
            <td>
              ${m.readyWorkers ? html`<span class="ok">${m.readyWorkers} ready</span>` : html`<span class="warn">none ready</span>`}${m.otherWorkers ? ` · ${m.otherWorkers} starting or draining` : ''}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function keysTable(keys: KeySummary[], csrf: string, timeZone: string): Html {
  if (!keys.length) return html`<p>You have no API keys yet.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      Your API keys
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Key</th>
        <th scope="col">Created</th>
        <th scope="col">Expires</th>
        <th scope="col">Last used</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr>
    </thead>
    <tbody>
      ${keys.map(
        (k) =>
          html`<tr>
            <th scope="row">${k.name ?? '(unnamed)'}</th>
            <td><code>sk-${k.prefix}_…</code></td>
            <td>${formatTime(k.createdAt, timeZone)}</td>
            <td>${formatTime(k.expiresAt, timeZone)}</td>
            <td>${formatTime(k.lastUsedAt, timeZone)}</td>
            <td>
              <form
                method="post"
                action="/portal/keys/${encodeURIComponent(k.keyId)}/revoke"
                data-confirm="Revoke the key “${k.name ?? k.prefix}”? Programs using it stop working at once."
              >
                <input type="hidden" name="_csrf" value="${csrf}" />
                <button type="submit" class="danger">Revoke<span class="visually-hidden"> ${k.name ?? k.prefix}</span></button>
              </form>
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const BATCH_STATUS: Record<BatchView['status'], string> = {
  validating: 'validating',
  failed: 'failed',
  in_progress: 'in progress',
  finalizing: 'finalizing',
  completed: 'completed',
  expired: 'expired',
  cancelling: 'cancelling',
  cancelled: 'cancelled',
};

/** Batches with a progress bar each (done = answered or failed, of all requests); with owners for administrators. */
function batchesTable(batches: BatchView[], timeZone: string, withOwner: boolean): Html {
  if (!batches.length)
    return html`<p>
      ${withOwner ? 'No batches yet.' : 'You have no batches yet. Submit one with the OpenAI SDK’s Batch API at the endpoint above.'}
    </p>`;
  return html`<table class="batches">
    <caption class="visually-hidden">
      ${withOwner ? 'All batches' : 'Your batches'}
    </caption>
    <thead>
      <tr>
        <th scope="col">Batch</th>
        ${withOwner ? html`<th scope="col">Owner</th>` : ''}
        <th scope="col">Status</th>
        <th scope="col">Created</th>
        <th scope="col">Endpoint</th>
        <th scope="col">Progress</th>
        <th scope="col">Expires</th>
      </tr>
    </thead>
    <tbody>
      ${batches.map((b) => {
        const done = b.completed + b.failed;
        const percent = b.total ? Math.floor((done / b.total) * 100) : 0;
        const bar = `progress-${b.id}`;
        return html`<tr>
          <th scope="row"><code>${b.id}</code></th>
          ${withOwner ? html`<td>${b.userEmail}</td>` : ''}
          <td>
            <span class="${b.status === 'completed' ? 'ok' : b.status === 'failed' || b.status === 'expired' ? 'warn' : ''}"
              >${BATCH_STATUS[b.status]}</span
            >
          </td>
          <td>${formatTime(b.createdAt, timeZone)}</td>
          <td><code>${b.endpoint}</code></td>
          <td class="progress-cell">
            <label for="${bar}" class="visually-hidden">Progress of batch ${b.id}</label>
            <progress id="${bar}" max="${b.total}" value="${done}">${percent} %</progress>
            <span class="progress-text"
              >${formatNumber(done)} of ${formatNumber(b.total)}${b.failed ? ` (${formatNumber(b.failed)} failed)` : ''}</span
            >
          </td>
          <td>${formatTime(b.expiresAt, timeZone)}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function usageTable(days: UsageDay[]): Html {
  return html`<details>
    <summary>Usage as a table</summary>
    <table>
      <thead>
        <tr>
          <th scope="col">Day</th>
          <th scope="col" class="num">Requests</th>
          <th scope="col" class="num">Prompt tokens</th>
          <th scope="col" class="num">Completion tokens</th>
          <th scope="col" class="num">of which batch</th>
        </tr>
      </thead>
      <tbody>
        ${[...days].reverse().map(
          (d) =>
            html`<tr>
              <th scope="row">${d.day}</th>
              <td class="num">${formatNumber(d.requests)}</td>
              <td class="num">${formatNumber(d.promptTokens)}</td>
              <td class="num">${formatNumber(d.completionTokens)}</td>
              <td class="num">${formatNumber(d.batchTokens)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </details>`;
}

export interface PortalPageInput {
  user: PageUser;
  overview: PortalOverview;
  apiBaseUrl: string;
  /** A key just created: its secret is on this page and nowhere else, ever. */
  created?: KeyCreated;
  /** A message about the last action (revoked, or a form problem). */
  flash?: { kind: 'ok' | 'error'; text: string };
  form?: { name?: string };
}

export function portalPage(p: PortalPageInput): string {
  const { overview: o, user } = p;
  const body = html` <h1>Models and API keys</h1>
    ${p.flash ? html`<p class="${p.flash.kind === 'ok' ? 'notice ok' : 'notice error'}" role="${p.flash.kind === 'ok' ? 'status' : 'alert'}">${p.flash.text}</p>` : ''}
    ${
      p.created
        ? html`<section class="secret" aria-labelledby="secret-heading">
            <h2 id="secret-heading" tabindex="-1" data-autofocus>Your new key “${p.created.key.name ?? ''}”</h2>
            <p><strong>Copy it now: this is the only time it is shown.</strong> Store it like a password.</p>
            <div class="copy-row">
              <label for="new-secret" class="visually-hidden">New API key</label>
              <input id="new-secret" class="secret-value" readonly value="${p.created.secret}" spellcheck="false" autocomplete="off" />
              <button type="button" data-copy="#new-secret">Copy</button>
            </div>
          </section>`
        : ''
    }

    <section aria-labelledby="models-heading">
      <h2 id="models-heading">Models you can use</h2>
      <p>OpenAI-compatible endpoint: <code>${p.apiBaseUrl}</code> — use it with any OpenAI SDK and one of your keys.</p>
      ${o.models.ok ? modelsTable(o.models.value) : unavailable(o.models)}
    </section>

    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">Your API keys</h2>
      <form method="post" action="/portal/keys" class="create-key">
        <input type="hidden" name="_csrf" value="${user.csrfToken}" />
        <div class="field">
          <label for="key-name">Name</label>
          <input
            id="key-name"
            name="name"
            required
            maxlength="128"
            value="${p.form?.name ?? ''}"
            aria-describedby="key-name-help"
            autocomplete="off"
          />
          <small id="key-name-help">Where you will use it, e.g. “laptop notebook”.</small>
        </div>
        <div class="field">
          <label for="key-expiry">Expires</label>
          <select id="key-expiry" name="expiresInDays">
            <option value="30">in 30 days</option>
            <option value="90" selected>in 90 days</option>
            <option value="365">in a year</option>
            <option value="7">in 7 days</option>
            <option value="0">never</option>
          </select>
        </div>
        <button type="submit">Create key</button>
      </form>
      ${o.keys.ok ? keysTable(o.keys.value, user.csrfToken, o.timeZone) : unavailable(o.keys)}
    </section>

    <section aria-labelledby="usage-heading">
      <h2 id="usage-heading">Your usage</h2>
      ${o.usage.ok ? [usageChart(o.usage.value, o.timeZone), usageTable(o.usage.value)] : unavailable(o.usage)}
    </section>

    <section aria-labelledby="batches-heading">
      <h2 id="batches-heading">Your batches</h2>
      ${o.batches.ok ? batchesTable(o.batches.value, o.timeZone, false) : unavailable(o.batches)}
    </section>`;
  return page({ title: 'Models and API keys', user, current: 'portal' }, body);
}

export function adminPage(user: PageUser, a: AdminOverview, timeZone: string, flash?: string): string {
  const body = html` <h1>Administration</h1>
    ${flash ? html`<p class="notice ok" role="status">${flash}</p>` : ''}
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      ${
        a.users.ok
          ? html`<table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">E-mail</th>
                  <th scope="col">eppn</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Affiliation</th>
                  <th scope="col">Last login</th>
                  <th scope="col">Status</th>
                  <th scope="col"><span class="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                ${a.users.value.map(
                  (u) =>
                    html`<tr>
                      <th scope="row">${u.displayName ?? '—'}</th>
                      <td>${u.email}</td>
                      <td>${u.eppn ?? '—'}</td>
                      <td>${u.roles.join(', ')}</td>
                      <td>${(u.affiliations ?? []).join(', ') || '—'}</td>
                      <td>${formatTime(u.lastLoginAt, timeZone)}</td>
                      <td>${u.disabledAt ? html`<span class="warn">disabled</span>` : html`<span class="ok">active</span>`}</td>
                      <td>
                        <div class="actions">
                          ${
                            u.email === user.email
                              ? ''
                              : html`<form
                                  method="post"
                                  action="/portal/admin/users/${encodeURIComponent(u.userId)}"
                                  data-confirm="${u.disabledAt ? 'Enable' : 'Disable'} ${u.email}?"
                                >
                                  <input type="hidden" name="_csrf" value="${user.csrfToken}" />
                                  <input type="hidden" name="action" value="${u.disabledAt ? 'enable' : 'disable'}" />
                                  <button type="submit" class="${u.disabledAt ? 'secondary' : 'danger'}">
                                    ${u.disabledAt ? 'Enable' : 'Disable'}<span class="visually-hidden"> ${u.email}</span>
                                  </button>
                                </form>`
                          }
                          <form method="post" action="/portal/admin/users/${encodeURIComponent(u.userId)}">
                            <input type="hidden" name="_csrf" value="${user.csrfToken}" />
                            <input type="hidden" name="action" value="end-sessions" />
                            <button type="submit" class="secondary">End sessions<span class="visually-hidden"> of ${u.email}</span></button>
                          </form>
                        </div>
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : unavailable(a.users)
      }
    </section>
    <section aria-labelledby="workers-heading">
      <h2 id="workers-heading">Workers</h2>
      ${
        a.workers.ok
          ? a.workers.value.length
            ? html`<table>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">State</th>
                    <th scope="col">Runtime</th>
                    <th scope="col">Models</th>
                    <th scope="col" class="num">Running</th>
                    <th scope="col" class="num">Waiting</th>
                    <th scope="col" class="num">KV cache</th>
                    <th scope="col">Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  ${a.workers.value.map(
                    (w) =>
                      html`<tr>
                        <th scope="row"><code>${w.registration.workerId}</code></th>
                        <td>${w.state}</td>
                        <td>${w.registration.runtime.kind} on ${w.registration.hardware} (${w.registration.vmId})</td>
                        <td>${w.registration.models.map((m) => m.id).join(', ')}</td>
                        <td class="num">${w.load?.running ?? '—'}</td>
                        <td class="num">${w.load?.waiting ?? '—'}</td>
                        <td class="num">${w.load?.kvCacheUsage === undefined ? '—' : `${Math.round(w.load.kvCacheUsage * 100)} %`}</td>
                        <td>${formatTime(w.lastSeenAt, timeZone)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
            : html`<p>No worker is registered.</p>`
          : unavailable(a.workers)
      }
    </section>
    <section aria-labelledby="admin-models-heading">
      <h2 id="admin-models-heading">Models</h2>
      ${a.models.ok ? modelsTable(a.models.value) : unavailable(a.models)}
    </section>
    <section aria-labelledby="all-keys-heading">
      <h2 id="all-keys-heading">Active API keys</h2>
      ${a.keys.ok && a.keys.value.length === 0 ? html`<p>No active keys.</p>` : ''}
      ${
        a.keys.ok && a.keys.value.length > 0
          ? html`<table>
              <thead>
                <tr>
                  <th scope="col">Owner</th>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                ${a.keys.value.map(
                  (k) =>
                    html`<tr>
                      <th scope="row">${k.userEmail}</th>
                      <td>${k.name ?? '—'}${k.trusted ? ' (trusted service key)' : ''}</td>
                      <td><code>sk-${k.prefix}_…</code></td>
                      <td>${formatTime(k.createdAt, timeZone)}</td>
                      <td>${formatTime(k.expiresAt, timeZone)}</td>
                      <td>${formatTime(k.lastUsedAt, timeZone)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : a.keys.ok
            ? ''
            : unavailable(a.keys)
      }
    </section>
    <section aria-labelledby="all-batches-heading">
      <h2 id="all-batches-heading">Batches</h2>
      ${a.batches.ok ? batchesTable(a.batches.value, timeZone, true) : unavailable(a.batches)}
    </section>`;
  return page({ title: 'Administration', user, current: 'admin' }, body);
}

export function chooserPage(idps: { entityId: string; displayName: string }[], returnTo: string): string {
  const body = html` <h1>Sign in</h1>
    <p>Choose your institution. You will sign in there and come back here.</p>
    <form method="get" action="/auth/saml/login" class="chooser">
      <input type="hidden" name="next" value="${returnTo}" />
      <div class="field">
        <label for="idp">Institution</label>
        <select id="idp" name="idp" required>
          ${idps.map((i) => html`<option value="${i.entityId}">${i.displayName}</option>`)}
        </select>
      </div>
      <button type="submit">Continue</button>
    </form>`;
  return page({ title: 'Sign in' }, body);
}

export function messagePage(title: string, message: string, options: { user?: PageUser; action?: Html } = {}): string {
  return page(
    { title, user: options.user },
    html`<h1>${title}</h1>
      <p>${message}</p>
      ${options.action ?? ''}`,
  );
}

export function logoutConfirmPage(user: PageUser): string {
  return page(
    { title: 'Sign out', user },
    html`<h1>Sign out</h1>
      <form method="post" action="/auth/logout">
        <input type="hidden" name="_csrf" value="${user.csrfToken}" />
        <p>Sign out of open-maas${' '}and, where your institution supports it, of your institutional account.</p>
        <button type="submit">Sign out</button>
      </form>`,
  );
}

export const signInAgain = html`<p><a class="button" href="/auth/saml/login">Sign in again</a></p>`;

/** The page a one-time sign-in link opens: the link is redeemed only by this form's POST. */
export function signInLinkPage(token: string): string {
  return page(
    { title: 'Sign in' },
    html`<h1>Sign in</h1>
      <form method="post" action="/auth/one-time">
        <input type="hidden" name="token" value="${token.slice(0, 64)}" />
        <p>This one-time link signs you in to open-maas. It works once.</p>
        <button type="submit">Sign in</button>
      </form>`,
  );
}
