import { runtimeKeyFor } from './runtime-key';

describe('runtimeKeyFor', () => {
  const secret = 'a-secret-shared-by-workers-and-gateways';

  it('gives each worker its own key, the same wherever it is derived', () => {
    const a = runtimeKeyFor(secret, 'mdx-vm-1');
    expect(runtimeKeyFor(secret, 'mdx-vm-1')).toBe(a);
    expect(runtimeKeyFor(secret, 'mdx-vm-2')).not.toBe(a);
    expect(runtimeKeyFor(`${secret}!`, 'mdx-vm-1')).not.toBe(a);
    // HMAC-SHA256, base64url: 43 characters, safe in a header and on a command line
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toContain(secret);
  });
});
