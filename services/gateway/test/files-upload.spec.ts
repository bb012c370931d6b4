import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Stack } from './support/stack';

/** `POST /v1/files` read as a stream: what it stores, and the errors a bad form gets (supertest against the running gateway). */
describe('file uploads', () => {
  let stack: Stack;
  let secret: string;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-files-'));
  const MAX = 4096;
  const QUOTA = 64 * 1024;

  beforeAll(async () => {
    stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_FILE_MAX_BYTES: String(MAX), GATEWAY_FILE_QUOTA_BYTES: String(QUOTA) });
    await stack.start();
    ({ secret } = await stack.createKey({ name: 'files' }));
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  const gateway = () => request(stack.url(''));
  const auth = () => ({ authorization: `Bearer ${secret}` });
  /** The form's parts in the order given; a string is sent as the raw body. */
  type Part = ['purpose', string] | ['file', { text: string; name: string }];
  const upload = (body: Part[] | string, headers: Record<string, string> = {}) => {
    const req = gateway()
      .post('/v1/files')
      .set({ ...auth(), ...headers });
    if (typeof body === 'string') return req.send(body);
    for (const part of body) {
      if (part[0] === 'purpose') req.field('purpose', part[1]);
      else req.attach('file', Buffer.from(part[1].text), part[1].name);
    }
    return req;
  };
  /** The body as text, whatever its content type (in Node the parser is handed the response stream). */
  const asText = (res: request.Response, done: (err: Error | null, body: string) => void) => {
    const stream = res as unknown as NodeJS.ReadableStream;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => done(null, text));
  };

  it('stores the file part byte for byte, whichever order the parts come in', async () => {
    const text = `{"a":"é ✓"}\n`.repeat(50);
    const res = await upload([
      ['file', { text, name: 'in.jsonl' }],
      ['purpose', 'batch'],
    ]);
    expect(res.status).toBe(200);
    const file = res.body;
    expect(file).toMatchObject({ object: 'file', filename: 'in.jsonl', purpose: 'batch', bytes: Buffer.byteLength(text) });
    const content = await gateway().get(`/v1/files/${file.id}/content`).set(auth()).buffer(true).parse(asText);
    expect(content.status).toBe(200);
    expect(content.body).toBe(text);
  });

  it.each([
    ['no file part', () => upload([['purpose', 'batch']]), 400, 'missing_required_parameter', 'file'],
    ['no purpose', () => upload([['file', { text: '{}\n', name: 'a.jsonl' }]]), 400, 'missing_required_parameter', 'purpose'],
    [
      'a purpose other than batch',
      () =>
        upload([
          ['purpose', 'fine-tune'],
          ['file', { text: '{}\n', name: 'a.jsonl' }],
        ]),
      400,
      'invalid_value',
      'purpose',
    ],
    ['not multipart', () => upload('{"purpose":"batch"}', { 'content-type': 'application/json' }), 400, 'invalid_content_type', null],
    [
      'multipart without a boundary',
      () =>
        upload('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc', { 'content-type': 'multipart/form-data' }),
      400,
      'invalid_body',
      null,
    ],
    [
      'a form cut short',
      () =>
        upload('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc', {
          'content-type': 'multipart/form-data; boundary=xyz',
        }),
      400,
      'invalid_body',
      null,
    ],
    [
      'a file over the limit',
      () =>
        upload([
          ['purpose', 'batch'],
          ['file', { text: 'x'.repeat(MAX + 1), name: 'big.jsonl' }],
        ]),
      413,
      'request_too_large',
      null,
    ],
  ])('answers %s with an OpenAI error', async (_case, send, status, code, param) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.body;
    expect(body.error).toMatchObject({ code, type: expect.any(String), message: expect.any(String) });
    if (param) expect(body.error.param).toBe(param);
  });

  it('stores nothing for a refused upload', async () => {
    const list = (await gateway().get('/v1/files').set(auth()).expect(200)).body;
    expect(list.data.map((f: { filename: string }) => f.filename)).toEqual(['in.jsonl']);
  });

  it('refuses an upload past the user’s storage quota until files are deleted', async () => {
    const own = await stack.createKey({ name: 'quota', userEmail: 'quota@example.org' });
    const as = (body: Part[]) => {
      const req = gateway()
        .post('/v1/files')
        .set({ authorization: `Bearer ${own.secret}` });
      for (const part of body) {
        if (part[0] === 'purpose') req.field('purpose', part[1]);
        else req.attach('file', Buffer.from(part[1].text), part[1].name);
      }
      return req;
    };
    const text = 'x'.repeat(MAX - 1);
    const ids: string[] = [];
    for (let i = 0; i * (MAX - 1) + (MAX - 1) <= QUOTA; i++) {
      const res = await as([
        ['purpose', 'batch'],
        ['file', { text, name: `f${i}.jsonl` }],
      ]);
      expect(res.status).toBe(200);
      ids.push(res.body.id);
    }
    const over = await as([
      ['purpose', 'batch'],
      ['file', { text, name: 'over.jsonl' }],
    ]);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'storage_quota_exceeded', param: 'file' });
    expect(
      (
        await gateway()
          .delete(`/v1/files/${ids[0]}`)
          .set({ authorization: `Bearer ${own.secret}` })
      ).status,
    ).toBe(200);
    expect(
      (
        await as([
          ['purpose', 'batch'],
          ['file', { text, name: 'again.jsonl' }],
        ])
      ).status,
    ).toBe(200);
  });

  it('expires a file as OpenAI’s expires_after asks: gone for its user after, its bytes freed at the next upload', async () => {
    const own = await stack.createKey({ name: 'expiry', userEmail: 'expiry@example.org' });
    const as = (fields: [string, string][], text = '{"a":1}\n') => {
      const req = gateway()
        .post('/v1/files')
        .set({ authorization: `Bearer ${own.secret}` });
      for (const [name, value] of fields) req.field(name, value);
      return req.attach('file', Buffer.from(text), 'in.jsonl');
    };
    const kept = await as([
      ['purpose', 'batch'],
      ['expires_after[anchor]', 'created_at'],
      ['expires_after[seconds]', '3600'],
    ]);
    expect(kept.status).toBe(200);
    expect(kept.body.expires_at).toBe(kept.body.created_at + 3600);
    const forever = await as([['purpose', 'batch']]);
    expect(forever.body.expires_at).toBeNull();
    for (const [fields, param] of [
      [
        [
          ['expires_after[anchor]', 'created_at'],
          ['expires_after[seconds]', '60'],
        ],
        'expires_after.seconds',
      ],
      [
        [
          ['expires_after[anchor]', 'last_active_at'],
          ['expires_after[seconds]', '3600'],
        ],
        'expires_after.anchor',
      ],
      [[['expires_after[seconds]', '3600']], 'expires_after.anchor'],
    ] as [[string, string][], string][]) {
      const bad = await as([['purpose', 'batch'], ...fields]);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_value', param });
    }
    // Its hour passes (set in the row).
    await stack.db.query("UPDATE batch_files SET expires_at = now() - interval '1 second' WHERE id = $1", [kept.body.id]);
    expect(
      (
        await gateway()
          .get(`/v1/files/${kept.body.id}`)
          .set({ authorization: `Bearer ${own.secret}` })
      ).status,
    ).toBe(404);
    const listed = await gateway()
      .get('/v1/files')
      .set({ authorization: `Bearer ${own.secret}` });
    expect(listed.body.data.map((f: { id: string }) => f.id)).toEqual([forever.body.id]);
    expect((await as([['purpose', 'batch']])).status).toBe(200);
    expect(await stack.db.query('SELECT id FROM batch_files WHERE id = $1', [kept.body.id])).toEqual([]);
  });
});
