import type { StartedService } from '@maas/testing';
import { chatBody, sleep, Stack } from './support/stack';

const RPM = 60;
/** Traffic lasts this long: every 60 s window inside it is counted. */
const RUN_MS = 75_000;

interface Offer {
  /** When (ms from the start) and through which gateway each request is sent. */
  readonly at: number;
  readonly gateway: number;
}

/** 3 requests per second at each gateway, the gateways out of phase: three times the limit per gateway. */
const steady = (gateways: number): Offer[] =>
  Array.from({ length: Math.floor(RUN_MS / 333) }, (_, i) => i * 333).flatMap((t) =>
    Array.from({ length: gateways }, (_, g) => ({ at: t + (g * 333) / gateways, gateway: g })),
  );

/** 15 requests at once at each gateway every 10 s, the gateways' bursts 10/n s apart. */
const bursty = (gateways: number): Offer[] =>
  Array.from({ length: RUN_MS / 10_000 }, (_, k) => k * 10_000).flatMap((t) =>
    Array.from({ length: gateways }, (_, g) => Array.from({ length: 15 }, () => ({ at: t + (g * 10_000) / gateways, gateway: g }))).flat(),
  );

/** The most admissions in any 60 s window (one starting at each admission), and the admissions per wall-clock minute. */
function windows(admitted: readonly number[]): { most: number; perMinute: number[] } {
  const sorted = [...admitted].sort((a, b) => a - b);
  const count = (from: number) => sorted.filter((t) => t >= from && t < from + 60_000).length;
  const minutes = new Map<number, number>();
  for (const t of sorted) minutes.set(Math.floor(t / 60_000), (minutes.get(Math.floor(t / 60_000)) ?? 0) + 1);
  return { most: Math.max(0, ...sorted.map(count)), perMinute: [...minutes.values()] };
}

/**
 * Two and three gateway processes on one NATS share a 60 rpm key, offered steady load and bursts:
 * the admissions (the gateway's usage events with status 200, matched by request id) in any 60 s
 * window stay within 60 ± 2.
 */
describe('gateway: a key held to its requests per minute by two and three gateways', () => {
  const stack = new Stack();
  const gateways: StartedService[] = [];

  beforeAll(async () => {
    await stack.start();
    gateways.push(stack.gateway, await stack.startGateway(), await stack.startGateway());
    const worker = await stack.startWorker(['--capacity', '64']);
    for (const g of gateways.slice(1))
      await g.waitFor((r) => r.msg === 'worker joined' && r.workerId === worker.workerId, 15_000, 'the worker');
  }, 120_000);

  afterAll(() => stack.stop());

  /** Sends each offered request at its time, then checks the gateways' admissions (by request id) against the limit. */
  async function run(label: string, offers: Offer[], through: number): Promise<void> {
    const { secret } = await stack.createKey({ name: label, limits: { requestsPerMinute: RPM } });
    const start = Date.now();
    const answered = new Map<string, number>();
    const other: string[] = [];
    await Promise.all(
      offers.map(async (o, i) => {
        await sleep(Math.max(0, start + o.at - Date.now()));
        const id = `${label}-${i}`;
        const res = await fetch(`${gateways[o.gateway].url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'x-request-id': id },
          body: JSON.stringify(chatBody({ max_tokens: 1 })),
        });
        await res.arrayBuffer();
        answered.set(id, res.status);
        if (res.status !== 200 && res.status !== 429) other.push(`${id}: ${res.status}`);
      }),
    );
    expect(other).toEqual([]);
    // Admission times as the gateways recorded them, by request id.
    const ok = [...answered].filter(([, s]) => s === 200).map(([id]) => id);
    let events: { clientRequestId?: string; status: number; startedAt: string }[] = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(500)) {
      events = (await stack.usageEvents()).filter((e) => e.clientRequestId?.startsWith(`${label}-`) && e.status === 200);
      if (events.length >= ok.length) break;
    }
    expect(events.map((e) => e.clientRequestId).sort()).toEqual(ok.sort());
    const admitted = events.map((e) => Date.parse(e.startedAt));
    const { most, perMinute } = windows(admitted);
    const perGateway = Array.from({ length: through }, (_, g) =>
      ok.filter((id) => offers[Number(id.slice(label.length + 1))].gateway === g),
    ).map((x) => x.length);
    process.stdout.write(
      `${label}: offered ${offers.length} in ${RUN_MS / 1000} s, admitted ${ok.length} (per gateway ${perGateway.join('/')}); ` +
        `any 60 s window: at most ${most}; per wall-clock minute: ${perMinute.join(', ')}\n`,
    );
    expect(most).toBeLessThanOrEqual(RPM + 2);
    expect(most).toBeGreaterThanOrEqual(RPM - 2);
    expect(Math.max(...perMinute)).toBeLessThanOrEqual(RPM + 2);
    expect(Math.min(...perGateway)).toBeGreaterThan(0);
  }

  // The four scenarios use keys of their own, so they run at once (a minute and a quarter, not five); each test
  // reports its own.
  const scenarios: [string, number, Offer[]][] = [
    ['two gateways, steady', 2, steady(2)],
    ['two gateways, bursts', 2, bursty(2)],
    ['three gateways, steady', 3, steady(3)],
    ['three gateways, bursts', 3, bursty(3)],
  ];
  const runs = new Map<string, Promise<void>>();
  const started = (label: string, through: number, offers: Offer[]) => {
    if (runs.size === 0)
      for (const [l, t, o] of scenarios) {
        const p = run(l.replace(/[^a-z]+/g, '-'), o, t);
        p.catch(() => undefined); // awaited by its own test
        runs.set(l, p);
      }
    return runs.get(label) ?? run(label.replace(/[^a-z]+/g, '-'), offers, through);
  };

  it.each(scenarios)(
    '%s: 60 ± 2 in any 60 s',
    async (label, through, offers) => {
      await started(label, through, offers);
    },
    150_000,
  );
});
