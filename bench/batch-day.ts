/**
 * Batch work beside interactive demand through a compressed day, in virtual time (bench/batch-day/):
 * simulated a100-gpt-oss-20b workers replay a day of a ServeGen interactive rate series while a batch
 * backlog that never runs dry is queued, under four policies — no batch, the best static setting
 * (caps and interactive-only workers, swept, chosen with hindsight), the gateway's adaptive controller
 * and an hourly oracle (the best static setting per hour) — then a step from the night rate to the
 * afternoon peak under the controller, plotted to artifacts/bench/batch-step-response.png.
 * --admission limits (default) admits batch work by the policy's per-worker number alone; --admission
 * gateway through the gateway's own batch slots and lane filter (@maas/routing), reserve and caps included.
 * Targets (adaptive, per worker count): >= 99 % of interactive requests meet both objectives; batch
 * tokens >= 95 % of the oracle's and >= 110 % of the best static setting's; night batch >= 90 % of the
 * cluster's peak; objectives back within 10 s of the step.
 * Usage: npm run bench:batch -- --day [options] (or node scripts/run.js bench/batch-day.ts); --help lists them.
 */
import { runMain } from '@maas/cli-args';
import { batchDayMain } from './batch-day/cli';

runMain('bench/batch-day', () => batchDayMain(process.argv.slice(2)));
