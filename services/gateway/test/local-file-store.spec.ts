import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFileStore } from '../src/batch/file-store.repository';

/** Users' files on the gateway's disk: readable by the gateway's user alone, whatever the umask. */
describe('LocalFileStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'maas-local-files-'));
  const mode = (path: string) => statSync(path).mode & 0o777;
  const umask = process.umask(0o000);

  afterAll(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('creates its directory 0700 and writes files 0600, also when one is replaced', async () => {
    const dir = join(root, 'new', 'files');
    const store = new LocalFileStore(dir);
    await store.put('file-a', Buffer.from('first'));
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'file-a'))).toBe(0o600);
    await store.put('file-a', Buffer.from('second'));
    expect(mode(join(dir, 'file-a'))).toBe(0o600);
    expect((await store.get('file-a')).toString()).toBe('second');
    expect(readdirSync(dir)).toEqual(['file-a']);
  });

  it('narrows a directory that already exists world-readable', async () => {
    const dir = join(root, 'existing');
    mkdirSync(dir, { mode: 0o755 });
    expect(mode(dir)).toBe(0o755);
    await new LocalFileStore(dir).put('file-b', Buffer.from('data'));
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'file-b'))).toBe(0o600);
  });
});
