/**
 * Which waiting batch requests get a batch slot now: per model, oldest first, at most one per model
 * per turn. A request admitted runs its whole dispatch (body, parsing, routing) before its first I/O,
 * so admitting dozens in one turn (a wave of batch requests finishing together) would hold up every
 * interactive request arriving meanwhile; one per turn lets their I/O in between. No timers here: the
 * caller decides when a turn is taken.
 */
export class BatchGate<W> {
  private readonly queues = new Map<string, W[]>();

  get idle(): boolean {
    return this.queues.size === 0;
  }

  wait(model: string, waiter: W): void {
    const queue = this.queues.get(model);
    if (queue) queue.push(waiter);
    else this.queues.set(model, [waiter]);
  }

  /** Stops waiting (it gave up); false when it was not waiting (already admitted). */
  leave(model: string, waiter: W): boolean {
    const queue = this.queues.get(model);
    const i = queue?.indexOf(waiter) ?? -1;
    if (i < 0) return false;
    queue!.splice(i, 1);
    if (queue!.length === 0) this.queues.delete(model);
    return true;
  }

  /** One turn: each model's oldest waiter while `spare(model)` says a slot is free; the admitted leave the gate. */
  turn(spare: (model: string) => number): { model: string; waiter: W }[] {
    const admitted: { model: string; waiter: W }[] = [];
    for (const [model, queue] of this.queues) {
      if (queue.length > 0 && spare(model) > 0) admitted.push({ model, waiter: queue.shift()! });
      if (queue.length === 0) this.queues.delete(model);
    }
    return admitted;
  }
}
