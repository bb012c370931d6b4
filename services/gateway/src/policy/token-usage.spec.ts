import { estimateTokens, SseUsageTracker, usageOfJsonBody } from './token-usage';

const event = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const chunk = (content: string) => ({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }], usage: null });

describe('SseUsageTracker', () => {
  it('counts text chunks, takes the final usage, sees [DONE], and flags the first text once', () => {
    const t = new SseUsageTracker();
    expect(t.push(Buffer.from(event({ choices: [{ delta: { role: 'assistant', content: '' } }] })))).toBe(false);
    expect(t.push(Buffer.from(event(chunk('Hel'))))).toBe(true);
    expect(t.push(Buffer.from(event(chunk('lo'))))).toBe(false);
    t.push(Buffer.from(event({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }) + event('[DONE]')));
    expect(t).toMatchObject({ textEvents: 2, usage: { promptTokens: 7, completionTokens: 2 }, done: true });
  });

  it('reassembles events split anywhere, even inside a multi-byte character, and CRLF lines', () => {
    const text = event(chunk('日本語')).replace(/\n/g, '\r\n') + event({ usage: { prompt_tokens: 3, completion_tokens: 1 } });
    const bytes = Buffer.from(text);
    const t = new SseUsageTracker();
    for (let i = 0; i < bytes.length; i += 5) t.push(bytes.subarray(i, i + 5));
    expect(t).toMatchObject({ textEvents: 1, usage: { promptTokens: 3, completionTokens: 1 } });
  });

  it('counts completion text and reasoning, and records an error event', () => {
    const t = new SseUsageTracker();
    t.push(Buffer.from(event({ choices: [{ text: 'a' }] }) + event({ choices: [{ delta: { reasoning_content: 'hmm' } }] })));
    t.push(Buffer.from(event({ error: { message: 'engine died', type: 'server_error' } })));
    expect(t).toMatchObject({ textEvents: 2, error: 'engine died', done: false });
  });
});

describe('usageOfJsonBody', () => {
  it('finds usage at the end without parsing the rest', () => {
    const body = Buffer.from(`{"data":[{"embedding":[${'0.1,'.repeat(1000)}0.2]}],"usage":{"prompt_tokens":5,"total_tokens":5}}`);
    expect(usageOfJsonBody(body)).toEqual({ usage: { promptTokens: 5, completionTokens: 0 }, completionChars: 0 });
  });

  it('falls back to the text length when the runtime reports no usage', () => {
    const body = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'abcdefgh' } }, { text: 'xy' }] }));
    expect(usageOfJsonBody(body)).toEqual({ completionChars: 10, completionText: 'abcdefghxy' });
    expect(usageOfJsonBody(Buffer.from('not json'))).toEqual({ completionChars: 0 });
  });

  it('estimates about four characters a token', () => {
    expect([estimateTokens(0), estimateTokens(1), estimateTokens(8), estimateTokens(9)]).toEqual([0, 1, 2, 3]);
  });
});
