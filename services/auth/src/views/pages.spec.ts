import type { PortalOverview } from '../services/portal.service';
import { formatTime } from './html';
import { portalPage } from './pages';

const user = { displayName: 'Ada', email: 'ada@example.org', isAdmin: false, csrfToken: 't' };
const overview = (batches: PortalOverview['batches']): PortalOverview => ({
  models: { ok: true, value: [] },
  keys: { ok: true, value: [] },
  usage: { ok: true, value: [] },
  batches,
  timeZone: 'UTC',
});
const batch = {
  id: 'batch_1',
  userEmail: 'ada@example.org',
  keyPrefix: 'abc',
  endpoint: '/v1/chat/completions',
  status: 'in_progress' as const,
  total: 150,
  completed: 40,
  failed: 2,
  createdAt: '2026-11-25T00:05:00Z',
  expiresAt: '2026-11-26T00:05:00Z',
  finishedAt: null,
};

describe('portal batches section', () => {
  it('shows each batch with a labelled progress bar of done (completed + failed) of total, and its expiry', () => {
    const page = portalPage({ user, overview: overview({ ok: true, value: [batch] }), apiBaseUrl: 'http://x/v1' });
    expect(page).toContain('<h2 id="batches-heading">Your batches</h2>');
    expect(page).toContain('<label for="progress-batch_1" class="visually-hidden">Progress of batch batch_1</label>');
    expect(page).toContain('<progress id="progress-batch_1" max="150" value="42">28 %</progress>');
    expect(page).toContain('42 of 150 (2 failed)');
    expect(page).toContain('in progress');
    expect(page).toContain('2026-11-26 00:05');
  });

  it('says when there are none, and when the gateway could not be asked', () => {
    expect(portalPage({ user, overview: overview({ ok: true, value: [] }), apiBaseUrl: 'http://x/v1' })).toContain(
      'You have no batches yet.',
    );
    expect(
      portalPage({ user, overview: overview({ ok: false, error: 'batches are unavailable right now' }), apiBaseUrl: 'http://x/v1' }),
    ).toContain('batches are unavailable right now.');
  });

  it('writes midnight as 00, not 24', () => {
    expect(formatTime('2026-11-25T00:29:00Z', 'UTC')).toBe('2026-11-25 00:29');
  });
});
