import { TranscriptSegment } from './merge';
import { renderTranscript, timestamp, toSrt, toVtt } from './transcript-format';

const seg = (start: number, end: number, text: string): TranscriptSegment => ({
  start,
  end,
  text,
  avgLogprob: -0.5,
  words: text.split(' ').map((word, i, all) => ({
    word,
    start: start + ((end - start) * i) / all.length,
    end: start + ((end - start) * (i + 1)) / all.length,
    confidence: 0.6,
  })),
});

const transcript = { language: 'english', duration: 3723.4, segments: [seg(0.5, 2, 'hello world'), seg(3661.25, 3662.5, 'good bye')] };

describe('subtitles', () => {
  it('formats timestamps', () => {
    expect(timestamp(3661.2505, ',')).toBe('01:01:01,251');
    expect(timestamp(0.0004, '.')).toBe('00:00:00.000');
  });

  it('renders SRT', () => {
    expect(toSrt(transcript.segments)).toBe(
      '1\n00:00:00,500 --> 00:00:02,000\nhello world\n\n2\n01:01:01,250 --> 01:01:02,500\ngood bye\n',
    );
  });

  it('renders WebVTT', () => {
    expect(toVtt(transcript.segments)).toBe(
      'WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nhello world\n\n01:01:01.250 --> 01:01:02.500\ngood bye\n',
    );
  });
});

describe('renderTranscript', () => {
  it('json carries the text and the billed seconds', () => {
    expect(JSON.parse(renderTranscript(transcript, 'json', new Set()).body)).toEqual({
      text: 'hello world good bye',
      usage: { type: 'duration', seconds: 3724 },
    });
  });

  it('text ends with a newline', () => {
    expect(renderTranscript(transcript, 'text', new Set())).toEqual({
      contentType: 'text/plain; charset=utf-8',
      body: 'hello world good bye\n',
    });
  });

  it('verbose_json has segments by default and words on request', () => {
    const plain = JSON.parse(renderTranscript(transcript, 'verbose_json', new Set()).body);
    expect(plain).toMatchObject({ task: 'transcribe', language: 'english', duration: 3723.4, text: 'hello world good bye' });
    expect(plain.segments[1]).toMatchObject({
      id: 1,
      seek: 366125,
      start: 3661.25,
      end: 3662.5,
      text: 'good bye',
      avg_logprob: -0.5,
      temperature: 0,
    });
    expect(plain.words).toBeUndefined();
    const words = JSON.parse(renderTranscript(transcript, 'verbose_json', new Set(['word'])).body);
    expect(words.segments).toBeUndefined();
    expect(words.words[0]).toEqual({ word: 'hello', start: 0.5, end: 1.25 });
  });
});
