import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, Stack } from './support/stack';

/** `POST /v1/files` read as a stream: what it stores, and the errors a bad form gets. */
describe('file uploads', () => {
  let stack: Stack;
  let secret: string;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-files-'));
  const MAX = 4096;

  beforeAll(async () => {
    stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_FILE_MAX_BYTES: String(MAX) });
    await stack.start();
    ({ secret } = await stack.createKey({ name: 'files' }));
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  const upload = (form: FormData | string, headers: Record<string, string> = {}) =>
    fetch(stack.url('/v1/files'), { method: 'POST', headers: { authorization: `Bearer ${secret}`, ...headers }, body: form });

  const formOf = (parts: { purpose?: string; file?: { text: string; name: string } }) => {
    const form = new FormData();
    if (parts.purpose !== undefined) form.append('purpose', parts.purpose);
    if (parts.file) form.append('file', new Blob([parts.file.text]), parts.file.name);
    return form;
  };

  it('stores the file part byte for byte, whichever order the parts come in', async () => {
    const text = `{"a":"é ✓"}\n`.repeat(50);
    const form = new FormData();
    form.append('file', new Blob([text]), 'in.jsonl');
    form.append('purpose', 'batch');
    const res = await upload(form);
    expect(res.status).toBe(200);
    const file = await json(res);
    expect(file).toMatchObject({ object: 'file', filename: 'in.jsonl', purpose: 'batch', bytes: Buffer.byteLength(text) });
    const content = await fetch(stack.url(`/v1/files/${file.id}/content`), { headers: { authorization: `Bearer ${secret}` } });
    expect(await content.text()).toBe(text);
  });

  it.each([
    ['no file part', () => upload(formOf({ purpose: 'batch' })), 400, 'missing_required_parameter', 'file'],
    ['no purpose', () => upload(formOf({ file: { text: '{}\n', name: 'a.jsonl' } })), 400, 'missing_required_parameter', 'purpose'],
    ['a purpose other than batch', () => upload(formOf({ purpose: 'fine-tune', file: { text: '{}\n', name: 'a.jsonl' } })), 400, 'invalid_value', 'purpose'],
    ['not multipart', () => upload('{"purpose":"batch"}', { 'content-type': 'application/json' }), 400, 'invalid_content_type', null],
    ['multipart without a boundary', () => upload('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc', { 'content-type': 'multipart/form-data' }), 400, 'invalid_body', null],
    ['a form cut short', () => upload('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc', { 'content-type': 'multipart/form-data; boundary=xyz' }), 400, 'invalid_body', null],
    ['a file over the limit', () => upload(formOf({ purpose: 'batch', file: { text: 'x'.repeat(MAX + 1), name: 'big.jsonl' } })), 413, 'request_too_large', null],
  ])('answers %s with an OpenAI error', async (_case, send, status, code, param) => {
    const res = await send();
    expect(res.status).toBe(status);
    const body = await json(res);
    expect(body.error).toMatchObject({ code, type: expect.any(String), message: expect.any(String) });
    if (param) expect(body.error.param).toBe(param);
  });

  it('stores nothing for a refused upload', async () => {
    const list = await json(await fetch(stack.url('/v1/files'), { headers: { authorization: `Bearer ${secret}` } }));
    expect(list.data.map((f: { filename: string }) => f.filename)).toEqual(['in.jsonl']);
  });
});
