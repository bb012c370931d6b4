import { MediaType, runTool, ToolError, UnreadableMedia } from '@maas/media';
import { pcm16FromBytes } from './wav';

/** The recogniser's input format. */
export const SAMPLE_RATE = 16_000;

/** Any supported container in, 16 kHz mono 16-bit samples out. */
export interface AudioDecoder {
  decode(bytes: Buffer, type: MediaType, signal?: AbortSignal): Promise<Int16Array>;
  /** Fails with a one-line reason when the decoder cannot run here. */
  check(): Promise<void>;
}

/** sox, reading the upload from stdin and writing raw PCM to stdout (MP3 through libsox-fmt-mp3); no dither (-D), so the same upload always gives the same transcript. */
export class SoxAudioDecoder implements AudioDecoder {
  constructor(private readonly binary = 'sox') {}

  async check(): Promise<void> {
    await runTool(this.binary, ['--version']);
  }

  async decode(bytes: Buffer, type: MediaType, signal?: AbortSignal): Promise<Int16Array> {
    const { stdout } = await runTool(
      this.binary,
      [
        '-V1',
        '-D',
        '-t',
        type.extension,
        '-',
        '-t',
        'raw',
        '-e',
        'signed-integer',
        '-b',
        '16',
        '-L',
        '-c',
        '1',
        '-r',
        String(SAMPLE_RATE),
        '-',
      ],
      { stdin: bytes, signal },
    ).catch((err: unknown) => {
      // The arguments are fixed: when sox fails, the upload is what it could not read.
      if (err instanceof ToolError && err.exitCode !== undefined)
        throw new UnreadableMedia(`the audio could not be decoded (${err.message.replace(/^.*?: /, '')})`);
      throw err;
    });
    return pcm16FromBytes(stdout);
  }
}
