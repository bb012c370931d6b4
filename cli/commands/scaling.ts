import * as fs from 'node:fs';
import { defineArgs, Parsed, UsageError } from '@maas/cli-args';
import { connect, JsMsg, NatsConnection } from 'nats';
import { MessageName, ScalingAction, ScalingDecided, ScalingDecisionListReply, Subjects, VmStateChanged } from '@maas/contracts';
import { loadConfig, parseDuration, platformConfigSpec } from '@maas/config';
import {
  decide,
  DecisionInput,
  diffDecisions,
  DecisionDiff,
  replayDecisions,
  resolveScalingSpec,
  ScaleDecision,
  ScalingSpec,
  ScalingSpecOverrides,
} from '@maas/scaling';
import { MessageBus, natsConnectionOptions } from '@maas/nats';
import { withBus } from '../bus';
import { Command, defineCommand, defineCommandGroup } from '../command';

const ENVIRONMENT = `environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas)`;
const TIMES = 'times: ISO 8601 (2026-01-31T09:00:00Z), "now", or a duration ago (30m, 2h, 7d)';
const DB = {
  type: 'boolean',
  help: "the vm-scaler's recorded decisions (its PostgreSQL table, asked over NATS) instead of the JetStream SCALING stream",
} as const;
/** Decisions per vm-scaler.list-decisions page (the vm-scaler also stops a page short of the NATS payload limit). */
const PAGE = 500;

const out = (line = '') => process.stdout.write(`${line}\n`);

/** ISO time, "now", or a duration ago. */
function parseTime(value: string, flag: string, nowMs: number): number {
  if (value === 'now') return nowMs;
  const ago = parseDuration(value);
  if (ago !== undefined) return nowMs - ago;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: expected an ISO time, "now" or a duration like 2h, got "${value}"`);
  return ms;
}

const clock = (iso: string) => iso.replace('T', ' ').replace(/Z$/, '');
const round = (v: number | null | undefined) => (v === null || v === undefined ? '-' : String(Math.round(v * 100) / 100));

// ---- where records come from ----

interface StreamEntry {
  readonly name: MessageName;
  readonly data: unknown;
  readonly time: number;
}

/** Reads the SCALING stream of the namespace from a start time, in order, up to an end time. */
class ScalingStream {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
  ) {}

  static async open(): Promise<ScalingStream> {
    const config = loadConfig(platformConfigSpec);
    try {
      const nc = await connect({ ...natsConnectionOptions(config.NATS_URL), name: 'maas-scaling', timeout: 3000 });
      return new ScalingStream(nc, new Subjects(config.MAAS_NAMESPACE));
    } catch (err) {
      throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${(err as Error).message}`);
    }
  }

  get name(): string {
    return this.subjects.stream('scaling');
  }

  async *read(names: readonly MessageName[], fromMs: number, toMs: number): AsyncGenerator<StreamEntry> {
    const jsm = await this.nc.jetstreamManager();
    let lastTs: number;
    try {
      const info = await jsm.streams.info(this.name);
      if (info.state.messages === 0) return;
      lastTs = Date.parse(info.state.last_ts);
    } catch (err) {
      if (/stream not found/i.test((err as Error).message))
        throw new Error(`no stream ${this.name}: vm-scaler has not run in namespace ${this.subjects.namespace}`);
      throw err;
    }
    if (lastTs < fromMs) return;
    // one filter subject at most: NATS servers before 2.10 ignore a list and never deliver
    const consumer = await this.nc.jetstream().consumers.get(this.name, {
      ...(names.length === 1 ? { filterSubjects: this.subjects.subject(names[0]) } : {}),
      opt_start_time: new Date(fromMs).toISOString(),
    });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
      let last: JsMsg | undefined;
      for await (const msg of batch) {
        last = msg;
        const time = msg.info.timestampNanos / 1e6;
        if (time > toMs) return;
        const name = this.subjects.nameOf(msg.subject);
        if (name && names.includes(name)) yield { name, data: JSON.parse(Buffer.from(msg.data).toString('utf8')), time };
      }
      if (!last || last.info.pending === 0) return;
    }
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

interface DecisionSource {
  decisions(fromMs: number, toMs: number, progress: (n: number) => void): AsyncGenerator<ScalingDecided>;
  close(): Promise<void>;
}

function streamDecisions(stream: ScalingStream): DecisionSource {
  return {
    async *decisions(fromMs, toMs, progress) {
      let n = 0;
      for await (const e of stream.read(['scaling.decided'], fromMs, toMs)) {
        const d = e.data as ScalingDecided;
        if (Date.parse(d.decidedAt) < fromMs) continue;
        progress((n += 1));
        yield d;
      }
    },
    close: () => stream.close(),
  };
}

/**
 * The decisions the vm-scaler recorded in [from, to], oldest first, asked page by page over NATS
 * (vm-scaler.list-decisions): its table is its own, and a long range never sits in one message.
 */
async function* recordedDecisions(bus: MessageBus, fromMs: number, toMs: number): AsyncGenerator<ScalingDecided> {
  let cursor: string | null = null;
  do {
    const page: ScalingDecisionListReply = await bus.request(
      'vm-scaler.list-decisions',
      { since: new Date(fromMs).toISOString(), until: new Date(toMs).toISOString(), limit: PAGE, ...(cursor ? { cursor } : {}) },
      15_000,
    );
    yield* page.decisions;
    cursor = page.nextCursor;
  } while (cursor);
}

/** Every decision of [from, to], from the vm-scaler's records (`db`) or the SCALING stream. */
async function readDecisions(db: boolean, fromMs: number, toMs: number, progress: (n: number) => void): Promise<ScalingDecided[]> {
  const recorded: ScalingDecided[] = [];
  if (db) {
    await withBus('vm-scaler', async (bus) => {
      for await (const d of recordedDecisions(bus, fromMs, toMs)) progress(recorded.push(d));
    });
    return recorded;
  }
  const source = streamDecisions(await ScalingStream.open());
  try {
    for await (const d of source.decisions(fromMs, toMs, progress)) recorded.push(d);
  } finally {
    await source.close();
  }
  return recorded;
}

/** Progress on stderr for long reads, when someone is watching. */
function progressLine(what: string): { tick: (n: number) => void; done: () => void } {
  let shown = 0;
  return {
    tick(n) {
      if (!process.stderr.isTTY || n - shown < 500) return;
      shown = n;
      process.stderr.write(`\r${what}: ${n}`);
    },
    done() {
      if (shown > 0) process.stderr.write('\r\x1b[K');
    },
  };
}

// ---- formatting ----

function asDecision(d: ScalingDecided): ScaleDecision {
  const decision = d.decision as unknown as ScaleDecision;
  if (!decision || !decision.capacity || !decision.replicas) throw new Error(`decision ${d.decisionId} has no recorded decision body`);
  return decision;
}

function asInput(d: ScalingDecided): DecisionInput {
  const input = d.inputs as unknown as DecisionInput;
  if (!input?.spec || !input.state || !input.observation || typeof input.now !== 'number')
    throw new Error(`decision ${d.decisionId} was recorded without its inputs`);
  return input;
}

/** What a decision does, in one line: its actions, else each model's target. */
function summary(decision: ScaleDecision): string {
  const c = decision.capacity;
  const acts = [
    ...c.starts.map((s) => `start ${s.count} × ${s.vmType} for ${s.model}`),
    ...c.drains.map((d) => `drain ${d.vmId}`),
    ...c.stops.map((s) => `stop ${s.vmId}`),
  ];
  if (acts.length) return acts.join(', ');
  const targets = Object.entries(c.models).map(
    ([m, p]) => `${m} ${p.targetReplicas} (${round(p.readyReplicas)} ready, ${round(p.bootingReplicas)} booting)`,
  );
  return targets.length ? `no change: ${targets.join('; ')}` : 'no change: no models in the spec';
}

const acts = (d: ScaleDecision) => d.capacity.starts.length + d.capacity.drains.length + d.capacity.stops.length > 0;

function diffLine(diff: DecisionDiff): string {
  return `    ${diff.field}: ${JSON.stringify(diff.a)} → ${JSON.stringify(diff.b)}`;
}

function loadSpecFile(file: string): ScalingSpec {
  let overrides: ScalingSpecOverrides;
  try {
    overrides = JSON.parse(fs.readFileSync(file, 'utf8')) as ScalingSpecOverrides;
  } catch (err) {
    throw new UsageError(`--spec ${file}: ${(err as Error).message}`);
  }
  const check = resolveScalingSpec(overrides);
  if (!check.ok) throw new UsageError(`--spec ${file}: ${check.error}`);
  return check.spec;
}

// ---- subcommands ----

const eventsSpec = defineArgs({
  command: 'maas scaling events',
  description: 'Timeline of decisions, actions and node state changes; decisions that change nothing are left out unless --all.',
  options: {
    since: { type: 'string', value: 'T', default: '2h', help: 'from this time on' },
    model: { type: 'string', value: 'M', help: 'only what concerns this model' },
    all: { type: 'boolean', help: 'also decisions that change nothing, and every action' },
  },
  epilogue: `${TIMES}\n\n${ENVIRONMENT}`,
});

async function events({ values }: Parsed<typeof eventsSpec>): Promise<number> {
  const nowMs = Date.now();
  const from = parseTime(values.since, 'since', nowMs);
  const model = values.model;
  const stream = await ScalingStream.open();
  const progress = progressLine('reading events');
  let hidden = 0;
  let shown = 0;
  let n = 0;
  // nodes and decisions of the chosen model, to filter actions that name only a node or a decision
  const nodesOfModel = new Set<string>();
  const decisionsShown = new Set<string>();
  try {
    const names: MessageName[] = [
      'scaling.decided',
      'scaling.action-started',
      'scaling.action-completed',
      'scaling.action-failed',
      'vm.state-changed',
    ];
    for await (const e of stream.read(names, from, nowMs)) {
      progress.tick((n += 1));
      const at = clock(new Date(e.time).toISOString());
      if (e.name === 'scaling.decided') {
        const d = e.data as ScalingDecided;
        const decision = asDecision(d);
        const touches = !model || decision.replicas[model] !== undefined || decision.capacity.models[model] !== undefined;
        if (!touches || (!values.all && !acts(decision))) {
          hidden += touches ? 1 : 0;
          continue;
        }
        for (const x of [...decision.capacity.drains, ...decision.capacity.stops])
          if (!model || x.model === model) nodesOfModel.add(x.vmId);
        decisionsShown.add(d.decisionId);
        // the capacity reasons that led to an action (a drained node's stop carries its own)
        const plans = model ? [decision.capacity.models[model]].filter(Boolean) : Object.values(decision.capacity.models);
        const why = plans
          .filter((m) => / → /.test(m.reason))
          .map((m) => m.reason)
          .join('; ');
        out(`${at}  decision  ${d.decisionId}  ${summary(decision)}${why ? `\n${' '.repeat(at.length)}            ${why}` : ''}`);
      } else if (e.name === 'vm.state-changed') {
        const v = e.data as VmStateChanged;
        if (model && v.model !== model) continue;
        nodesOfModel.add(v.vmId);
        out(
          `${at}  node      ${v.vmId}  ${v.from} → ${v.to}  (${v.provider} ${v.vmType}${v.model ? ` ${v.model}` : ''})${v.reason ? `: ${v.reason}` : ''}`,
        );
      } else {
        const a = e.data as ScalingAction;
        if (model && !decisionsShown.has(a.decisionId) && !nodesOfModel.has(a.target) && !a.target.endsWith(`:${model}`)) continue;
        if (!values.all && !decisionsShown.has(a.decisionId)) continue;
        out(`${at}  action    ${a.action} ${a.phase}  ${a.target}  (${a.actionId})${a.error ? `: ${a.error}` : ''}`);
      }
      shown += 1;
    }
  } finally {
    progress.done();
    await stream.close();
  }
  if (shown === 0) out(`no scaling events since ${clock(new Date(from).toISOString())}${model ? ` for ${model}` : ''}`);
  if (hidden > 0) out(`(${hidden} decisions that changed nothing not shown; --all shows them)`);
  return 0;
}

async function findDecision(id: string, db: boolean): Promise<{ decided: ScalingDecided; actions: ScalingAction[] }> {
  const time = /^sd-(\d{8}T\d{6}\.\d{3}Z)-/.exec(id);
  if (!time) throw new UsageError(`"${id}" is not a decision id (sd-YYYYMMDDTHHMMSS.mmmZ-xxxx)`, explainSpec.command);
  const t = time[1];
  const ms = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13)}`);
  if (db) {
    const decided = (await readDecisions(true, ms - 1, ms + 1, () => undefined)).find((d) => d.decisionId === id);
    if (!decided) throw new Error(`no decision ${id} among the vm-scaler's recorded decisions`);
    return { decided, actions: [] };
  }
  const stream = await ScalingStream.open();
  let decided: ScalingDecided | undefined;
  const actions: ScalingAction[] = [];
  try {
    // the id carries its time: read from just before it, and the actions that followed within a minute
    const names: MessageName[] = ['scaling.decided', 'scaling.action-started', 'scaling.action-completed', 'scaling.action-failed'];
    for await (const e of stream.read(names, ms - 2000, ms + 60_000)) {
      if (e.name === 'scaling.decided') {
        const d = e.data as ScalingDecided;
        if (d.decisionId === id) decided = d;
        else if (decided) break; // actions are carried out before the next tick decides
      } else if ((e.data as ScalingAction).decisionId === id) actions.push(e.data as ScalingAction);
    }
  } finally {
    await stream.close();
  }
  if (!decided) throw new Error(`no decision ${id} on stream ${stream.name} (it may have aged out; try --db)`);
  return { decided, actions };
}

const explainSpec = defineArgs({
  command: 'maas scaling explain',
  description:
    "A decision's inputs (observation per model, forecast, nodes with their in-flight requests, the policy's previous state, the spec) and every reason; re-runs it to check.",
  positionals: [{ name: 'DECISION-ID', help: 'sd-YYYYMMDDTHHMMSS.mmmZ-xxxx, as maas scaling events prints it' }],
  options: { db: DB, json: { type: 'boolean', help: 'print the recorded decision and its actions as JSON' } },
  epilogue: ENVIRONMENT,
});

async function explain({ values, positionals }: Parsed<typeof explainSpec>): Promise<number> {
  const { decided, actions } = await findDecision(positionals[0], values.db);
  if (values.json) {
    out(JSON.stringify({ ...decided, actions }, null, 2));
    return 0;
  }
  const input = asInput(decided);
  const decision = asDecision(decided);
  const { spec, state, observation, now } = input;
  const sources =
    (
      decided.inputs as {
        sources?: {
          provider?: string;
          aggregates?: Record<string, string>;
          forecasts?: Record<string, { method: string; issuedAt: string }>;
        };
      }
    ).sources ?? {};

  out(`decision ${decided.decisionId} at ${clock(decided.decidedAt)} (provider ${sources.provider ?? '?'}, stage ${decided.stage})`);
  out(`  ${summary(decision)}`);
  out('\nobservation');
  for (const [name, m] of Object.entries(observation.models)) {
    const at = sources.aggregates?.[name];
    out(
      `  ${name}: request rate ${round(m.requestRate)} req/s, concurrency ${round(m.concurrency)}, ${m.readyReplicas} ready replica${m.readyReplicas === 1 ? '' : 's'}${at ? ` (aggregate of ${clock(at)})` : ' (no fresh aggregate)'}`,
    );
  }
  for (const [name, f] of Object.entries(observation.forecasts ?? {})) {
    const src = sources.forecasts?.[name];
    if (!f.valid) out(`  forecast ${name}: not valid: ${f.reason}`);
    else {
      const points = f.points.map(
        (p) => `${clock(new Date(p.t * 1000).toISOString()).slice(11, 19)} ${round(p.value)} (upper ${round(p.upper)})`,
      );
      out(
        `  forecast ${name}${src ? ` (${src.method}, issued ${clock(src.issuedAt)})` : ''}: ${points.join(', ') || 'no step within the boot horizon'} req/s`,
      );
    }
  }
  out(`  nodes: ${observation.vms.length === 0 ? 'none' : ''}`);
  for (const vm of observation.vms) {
    out(
      `    ${vm.id}  ${vm.vmType}  ${vm.model}  ${vm.state} for ${Math.round(now - vm.stateSince)} s  in flight ${vm.inFlight ?? 'unknown'}`,
    );
  }
  out('\nprevious state');
  if (Object.keys(state.replicas).length + Object.keys(state.capacity.targets).length === 0) out('  none: nothing decided before this');
  for (const [name, r] of Object.entries(state.replicas)) {
    out(
      `  ${name}: ${r.buckets.length} metric buckets, ${r.panicSince !== null ? `panicking since ${Math.round(now - r.panicSince)} s ago` : 'not panicking'}${r.zeroSince !== null ? `, zero wanted for ${Math.round(now - r.zeroSince)} s` : ''}`,
    );
  }
  for (const [name, held] of Object.entries(state.capacity.targets)) {
    out(`  ${name}: held targets ${held.map(([t, n]) => `${n} (${Math.round(now - t)} s ago)`).join(', ') || 'none'}`);
  }
  out('\nreasons');
  for (const r of decided.reasons) out(`  ${r}`);
  out('\nspec');
  for (const [name, m] of Object.entries(spec.models)) {
    out(
      `  ${name}: metric ${m.metric}, ${m.metric === 'rps' ? `${m.replicaRequestsPerSecond} req/s` : `${m.targetConcurrencyPerReplica} concurrent`} per replica at ${m.targetUtilization} (max ${m.maxUtilization}), replicas ${m.minReplicas}–${m.maxReplicas}`,
    );
  }
  for (const t of spec.capacity.vmTypes) {
    out(
      `  ${t.name}: ${t.accelerator}, ${t.costPerHour}/h, boot ${t.bootSeconds} s, slots ${Object.entries(t.slots)
        .map(([m, s]) => `${m}=${s}`)
        .join(', ')}${t.maxCount !== null ? `, at most ${t.maxCount}` : ''}`,
    );
  }
  const c = spec.capacity;
  out(
    `  budget ${c.maxVms} VMs${c.maxCostPerHour !== null ? `, ${c.maxCostPerHour}/h` : ''}; forecast band ${c.forecastBand}; scale-down delay ${c.scaleDownDelaySeconds} s, hysteresis ${c.scaleDownHysteresis}; windows ${spec.replicas.stableWindowSeconds} s / ${spec.replicas.panicWindowSeconds} s`,
  );
  if (actions.length) {
    out('\nactions');
    for (const a of actions) out(`  ${clock(a.at)}  ${a.action} ${a.phase}  ${a.target}${a.error ? `: ${a.error}` : ''}`);
  }
  const again = decide(spec, state, observation, now).decision;
  const diffs = diffDecisions([decision], [again]);
  out(`\nreplayed: ${diffs.length === 0 ? 'identical' : 'DIFFERS'}`);
  for (const d of diffs) out(diffLine(d));
  return 0;
}

const replaySpec = defineArgs({
  command: 'maas scaling replay',
  description: `Re-runs the recorded inputs of [T1, T2]: each decision with "identical" when the policy reproduces it,
else what differs; with --spec, what that spec would have decided instead.`,
  options: {
    from: { type: 'string', value: 'T1', required: true, help: 'first decision time' },
    to: { type: 'string', value: 'T2', default: 'now', help: 'last decision time' },
    spec: { type: 'string', value: 'OTHER.json', help: 'ScalingSpecOverrides JSON, as SCALING_SPEC_FILE: what it would have decided' },
    db: DB,
    brief: { type: 'boolean', help: 'print only decisions that act or differ' },
  },
  epilogue: `${TIMES}\n\n${ENVIRONMENT}`,
});

async function replay({ values }: Parsed<typeof replaySpec>): Promise<number> {
  const nowMs = Date.now();
  const from = parseTime(values.from, 'from', nowMs);
  const to = parseTime(values.to, 'to', nowMs);
  if (to < from) throw new UsageError(`--to (${new Date(to).toISOString()}) is before --from (${new Date(from).toISOString()})`);
  const other = values.spec ? loadSpecFile(values.spec) : undefined;

  const progress = progressLine('reading decisions');
  let recorded: ScalingDecided[];
  try {
    recorded = await readDecisions(values.db, from, to, progress.tick);
  } finally {
    progress.done();
  }
  if (recorded.length === 0) {
    out(`no decisions recorded between ${clock(new Date(from).toISOString())} and ${clock(new Date(to).toISOString())}`);
    return 0;
  }
  const inputs = recorded.map(asInput);
  const actual = recorded.map(asDecision);
  if (process.stderr.isTTY && recorded.length > 2000) process.stderr.write(`replaying ${recorded.length} decisions …\r`);
  const replayed = replayDecisions(inputs, other);
  const diffs = diffDecisions(actual, replayed);
  const byIndex = new Map<number, DecisionDiff[]>();
  for (const d of diffs) byIndex.set(d.index, [...(byIndex.get(d.index) ?? []), d]);

  out(
    `replaying ${recorded.length} decisions from ${clock(recorded[0].decidedAt)} to ${clock(recorded[recorded.length - 1].decidedAt)}${other ? ` with ${values.spec}` : ''}`,
  );
  for (let i = 0; i < recorded.length; i += 1) {
    const differs = byIndex.get(i);
    if (values.brief && !differs && !acts(actual[i])) continue;
    const head = `${clock(recorded[i].decidedAt)}  ${recorded[i].decisionId}  ${summary(actual[i])}`;
    if (!differs) out(`${head}  identical`);
    else {
      out(`${head}  ${other ? `→ ${summary(replayed[i])}` : 'DIFFERS'}`);
      for (const d of differs) out(diffLine(d));
    }
  }
  const differing = byIndex.size;
  out(
    differing === 0
      ? `${recorded.length} decisions replayed: all identical${other ? ` with ${values.spec}` : ''}`
      : `${recorded.length} decisions replayed: ${differing} differ${other ? ` with ${values.spec}` : ' from what was recorded'}, ${recorded.length - differing} identical`,
  );
  return other || differing === 0 ? 0 : 1;
}

export const command: Command = defineCommandGroup({
  command: 'maas scaling',
  summary: 'scaling decisions: timeline, explanation with inputs, replay (identical or diff with another spec)',
  description: `What vm-scaler decided, why, and what another spec would have decided. Every decision is recorded
with its inputs (spec, previous state, observation, forecast) on the JetStream SCALING stream and
in the vm-scaler's PostgreSQL (scaling_decisions), which it answers from over NATS.`,
  actions: {
    events: defineCommand(
      'timeline of decisions, actions and node state changes; decisions that change nothing are left out unless --all',
      eventsSpec,
      events,
    ),
    explain: defineCommand("the decision's inputs and every reason; re-runs it to check", explainSpec, explain),
    replay: defineCommand(
      're-runs the recorded inputs of [T1, T2]: identical, or what differs (with --spec: what that spec would have decided)',
      replaySpec,
      replay,
    ),
  },
  epilogue: `${TIMES}\n--db   the vm-scaler's recorded decisions (asked over NATS) instead of the stream (explain, replay)\n\n${ENVIRONMENT}`,
});
