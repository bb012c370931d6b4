import { refusalOf as refusal } from './errors';
import { asObject, messageText, singlePrompt, streamOptions } from './requests';

describe('shared OpenAI request checks', () => {
  it.each([
    [{}, { stream: false, includeUsage: false }],
    [
      { stream: true, stream_options: { include_usage: true } },
      { stream: true, includeUsage: true },
    ],
    [
      { stream: true, stream_options: null },
      { stream: true, includeUsage: false },
    ],
  ])('streamOptions(%j)', (body, expected) => expect(streamOptions(body)).toEqual(expected));

  it.each([
    [{ stream_options: { include_usage: true } }, 'stream_options', 'invalid_value'],
    [{ stream: 'yes' }, 'stream', 'invalid_type'],
    [{ stream: true, stream_options: { include_usage: 1 } }, 'stream_options.include_usage', 'invalid_type'],
  ])('streamOptions refuses %j naming %s', (body, param, code) => {
    expect(refusal(() => streamOptions(body))).toMatchObject({ status: 400, param, code });
  });

  it('text parts: other parts skipped (a simulator) or refused (a text-only model)', () => {
    const content = [
      { type: 'text', text: 'a' },
      { type: 'image_url', image_url: { url: 'x' } },
      { type: 'text', text: 'b' },
    ];
    expect(messageText(content, 0, 'skipped')).toBe('ab');
    expect(refusal(() => messageText(content, 0, 'refused'))).toMatchObject({
      param: 'messages[0].content[1].type',
      code: 'unsupported_value',
    });
  });

  it.each([
    [{ prompt: 'hi' }, 'hi'],
    [{ prompt: ['hi'] }, 'hi'],
    [{ prompt: [1, 2] }, [1, 2]],
    [{ prompt: [[3]] }, [3]],
  ])('singlePrompt(%j)', (body, prompt) => expect(singlePrompt(body)).toEqual(prompt));

  it.each([[{ prompt: '' }], [{ prompt: ['a', 'b'] }], [{}], [{ prompt: [-1] }]])('singlePrompt refuses %j', (body) => {
    expect(refusal(() => singlePrompt(body))).toMatchObject({ status: 400, param: 'prompt' });
  });

  it.each([[null], [[1]], ['text']])('a body that is not an object (%j) is invalid JSON for the API', (raw) => {
    expect(refusal(() => asObject(raw)).toJSON()).toEqual({
      error: { message: 'request body must be a JSON object', type: 'invalid_request_error', param: null, code: 'invalid_json' },
    });
  });
});
