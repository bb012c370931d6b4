import { admitLogin, LoginRateSpec } from './login-rate';

const spec: LoginRateSpec = { perWindow: 3, windowMs: 60_000, maxTracked: 2 };

describe('admitLogin', () => {
  it('admits perWindow logins per address, then says how long to wait, then admits again', () => {
    const w = new Map();
    expect([0, 1, 2].map((t) => admitLogin(w, '192.0.2.1', spec, t).ok)).toEqual([true, true, true]);
    expect(admitLogin(w, '192.0.2.1', spec, 10_000)).toEqual({ ok: false, retryAfterMs: 50_000 });
    // Another address has its own count.
    expect(admitLogin(w, '192.0.2.2', spec, 10_000).ok).toBe(true);
    expect(admitLogin(w, '192.0.2.1', spec, 60_000).ok).toBe(true);
  });

  it('remembers at most maxTracked addresses, forgetting finished windows first', () => {
    const w = new Map();
    admitLogin(w, 'a', spec, 0);
    admitLogin(w, 'b', spec, 30_000);
    admitLogin(w, 'c', spec, 70_000); // a's window is over: a goes
    expect([...w.keys()]).toEqual(['b', 'c']);
    admitLogin(w, 'd', spec, 80_000); // none finished: the oldest goes
    expect([...w.keys()]).toEqual(['c', 'd']);
  });
});
