import { defineArgs } from '@maas/cli-args';
import { UsageDeadLetter } from '@maas/contracts';
import { BUS_ENVIRONMENT, withBus } from '../bus';
import { Command, defineCommand, defineCommandGroup } from '../command';

const ENVIRONMENT = BUS_ENVIRONMENT;
const out = (line: string) => process.stdout.write(`${line}\n`);

const describe = (d: UsageDeadLetter) =>
  [
    d.requestId,
    d.event.keyId,
    d.event.endpoint,
    JSON.stringify(d.event.model),
    `refused ${d.deliveries}×, last ${d.lastFailedAt}`,
    d.reason,
  ].join('  ');

const deadLetters = defineArgs({
  command: 'maas usage dead-letters',
  description:
    'Usage events the ledger refused for good (values the database cannot store), oldest first: request id, key, endpoint, model, ' +
    'times refused and the reason. Events are never set aside because the database was away; those wait in the stream.',
  options: {
    limit: { type: 'integer', min: 1, max: 1000, default: 100, help: 'at most this many' },
    json: { type: 'boolean', help: 'print them as JSON, events included' },
  },
  epilogue: ENVIRONMENT,
});

const redrive = defineArgs({
  command: 'maas usage redrive',
  description:
    'Puts dead-lettered usage events back into the ledger, after a fix (a metrics-collector that now accepts them, a repaired table). ' +
    'Those refused again stay dead-lettered with the new reason. Safe to repeat: the ledger holds each request id once.',
  positionals: [{ name: 'REQUEST_ID', help: 'only these requests (default: the oldest --limit)', optional: true, variadic: true }],
  options: {
    limit: { type: 'integer', min: 1, max: 10_000, default: 1000, help: 'at most this many' },
  },
  epilogue: ENVIRONMENT,
});

export const command: Command = defineCommandGroup({
  command: 'maas usage',
  summary: 'list and redrive usage events the ledger refused',
  description: "The usage ledger's dead letters, through metrics-collector over NATS.",
  actions: {
    'dead-letters': defineCommand(
      'lists the usage events the ledger refused for good, with the reason',
      deadLetters,
      async ({ values }) => {
        const reply = await withBus('metrics-collector', (bus) =>
          bus.request('metrics-collector.list-dead-letters', { limit: values.limit }),
        );
        if (values.json) out(JSON.stringify(reply, null, 2));
        else {
          for (const d of reply.deadLetters) out(describe(d));
          out(`${reply.total} dead-lettered usage event${reply.total === 1 ? '' : 's'}`);
        }
        return 0;
      },
    ),
    redrive: defineCommand('puts dead-lettered usage events back into the ledger after a fix', redrive, async ({ values, positionals }) => {
      const ids = positionals.filter(Boolean);
      const reply = await withBus('metrics-collector', (bus) =>
        bus.request('metrics-collector.redrive-usage', { ...(ids.length ? { requestIds: ids } : {}), limit: values.limit }, 60_000),
      );
      for (const r of reply.refused) out(`refused again: ${r.requestId}  ${r.reason}`);
      out(`${reply.redriven} redriven into the ledger, ${reply.refused.length} refused again, ${reply.remaining} dead letters left`);
      return reply.refused.length ? 1 : 0;
    }),
  },
  epilogue: ENVIRONMENT,
});
