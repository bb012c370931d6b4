import { seededRng } from '../lib/arrivals';
import { blockIds, exponential, logNormal } from './draws';
import { TRACE_BLOCK_TOKENS, TraceRequest } from './trace';

/**
 * A conversation-style trace: chat sessions whose every turn resends the whole conversation so far.
 * Each session starts from one of a few shared system prompts (the applications of a platform), and
 * each turn's prompt is the previous turn's prompt plus its answer plus a new user message, so it
 * extends the previous prompt's blocks. Turns are separated by a think time; session lengths are
 * heavy-tailed (most sessions are short, a few run for dozens of turns). Seeded: the same spec gives
 * the same trace.
 */
export interface ConversationSpec {
  readonly seed: number;
  /** Session starts per second (a Poisson process). */
  readonly sessionsPerSecond: number;
  /** The trace's length: sessions start throughout it, and turns that would come later are not sent (a steady load, not a burst and a tail). */
  readonly durationSeconds: number;
  /** Distinct system prompts sessions share. */
  readonly systemPrompts: number;
  /** Tokens of each system prompt (rounded to whole trace blocks). */
  readonly systemPromptTokens: number;
  /** Mean tokens of a user message and of an answer (log-normal, sigma 0.8). */
  readonly userTokens: number;
  readonly answerTokens: number;
  /** Mean seconds between an answer and the next user message (exponential). */
  readonly thinkSeconds: number;
  /** Turns per session: Pareto with this shape from 1 turn, at most maxTurns (shape 1.2: mean ~4, a few of 40+). */
  readonly turnsShape: number;
  readonly maxTurns: number;
  /** The context window: a conversation that would outgrow it ends there. */
  readonly maxPromptTokens: number;
}

export const DEFAULT_CONVERSATION: Omit<ConversationSpec, 'sessionsPerSecond'> = {
  seed: 1,
  durationSeconds: 600,
  systemPrompts: 8,
  systemPromptTokens: 3072,
  userTokens: 400,
  answerTokens: 150,
  thinkSeconds: 20,
  turnsShape: 1.2,
  maxTurns: 64,
  maxPromptTokens: 32_768,
};

/** Block ids: system prompt k's blocks, then each session's own, far apart so they never collide. */
const SYSTEM_BLOCK_BASE = 1_000_000_000;
const SESSION_BLOCK_STRIDE = 100_000;

export function conversationTrace(spec: ConversationSpec): TraceRequest[] {
  const rng = seededRng(spec.seed);
  const systemBlocks = Math.max(1, Math.round(spec.systemPromptTokens / TRACE_BLOCK_TOKENS));
  const requests: Omit<TraceRequest, 'id'>[] = [];
  let session = 0;
  for (
    let start = exponential(rng, 1 / spec.sessionsPerSecond);
    start < spec.durationSeconds;
    start += exponential(rng, 1 / spec.sessionsPerSecond)
  ) {
    session += 1;
    const system = Math.floor(rng() * spec.systemPrompts);
    const turns = Math.min(spec.maxTurns, Math.floor(Math.pow(1 - rng(), -1 / spec.turnsShape)));
    const prefix = blockIds(SYSTEM_BLOCK_BASE + system * 1000, systemBlocks);
    let context = systemBlocks * TRACE_BLOCK_TOKENS;
    let at = start;
    for (let turn = 0; turn < turns; turn++) {
      const promptTokens = context + logNormal(rng, spec.userTokens);
      const outputTokens = logNormal(rng, spec.answerTokens);
      if (promptTokens + outputTokens > spec.maxPromptTokens || at >= spec.durationSeconds) break;
      // Full blocks only, as an engine caches them; the conversation's blocks are its own past the system prompt.
      const full = Math.floor(promptTokens / TRACE_BLOCK_TOKENS);
      const blocks = [...prefix, ...blockIds(session * SESSION_BLOCK_STRIDE, full - systemBlocks)];
      requests.push({ arrivalSeconds: at, promptTokens, outputTokens, blocks });
      context = promptTokens + outputTokens;
      // The next message comes a think time after this answer; the answer's own time is not known open-loop,
      // so it is folded into the think time (its mean is well above an answer's duration).
      at += exponential(rng, spec.thinkSeconds);
    }
  }
  return requests.sort((a, b) => a.arrivalSeconds - b.arrivalSeconds).map((r, i) => ({ id: `c${i}`, ...r }));
}
