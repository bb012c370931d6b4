import { missingOf, requireSystemPart } from './system-parts';

describe('requireSystemPart', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('names the part and what of it is missing when its commands are not on PATH', () => {
    process.env.PATH = '/nonexistent';
    expect(missingOf('compose')).toEqual(['docker-compose']);
    expect(() => requireSystemPart('compose')).toThrow(
      /^compose file validation \(docker-compose v1\) is not installed \(missing docker-compose\): run npm test as root/,
    );
  });

  it('passes for a part whose commands are found on PATH', () => {
    process.env.PATH = '/bin';
    const fs = require('node:fs') as typeof import('node:fs');
    const dir = fs.mkdtempSync('/tmp/maas-parts-');
    fs.writeFileSync(`${dir}/docker-compose`, '#!/bin/sh\n', { mode: 0o755 });
    process.env.PATH = `${dir}:/bin`;
    try {
      expect(missingOf('compose')).toEqual([]);
      expect(() => requireSystemPart('compose')).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
