/** Routing's tie-breaks draw from the one seeded generator; its state is part of RoutingState, so replays repeat. */
export { SeededRandom } from '@maas/random';
