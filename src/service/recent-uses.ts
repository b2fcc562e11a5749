/** A `used` signal this API process sent (or is sending) for one image. */
export interface SignalledUse {
  at: number;
  /** Settles when the server has the signal; concurrent lookups answer only after it. */
  sent: Promise<void>;
}

/**
 * The uses this API process has signalled lately, per snapshot workflow and image, so that a burst
 * of lookups of one work item sends one `used` signal per recording interval rather than one each
 * (the memo shows the recorded use only after the workflow's next task). Bounded: past `limit`
 * entries the oldest go, which at worst costs one more signal.
 */
export class RecentUses {
  readonly #uses = new Map<string, SignalledUse>();

  constructor(private readonly limit = 10_000) {}

  /** The use this process signalled for the image within the last `withinMs`, if any. */
  within(workflowId: string, imageId: string, withinMs: number, now: number): SignalledUse | undefined {
    const use = this.#uses.get(key(workflowId, imageId));
    return use !== undefined && now - use.at < withinMs ? use : undefined;
  }

  /**
   * Remembers the use before its signal is answered, so lookups racing this one wait for the same
   * signal; a signal that fails is forgotten, so the next lookup sends its own.
   */
  remember(workflowId: string, imageId: string, at: number, send: () => Promise<unknown>): SignalledUse {
    const k = key(workflowId, imageId);
    const sent = send().then(
      () => undefined,
      (err: unknown) => {
        if (this.#uses.get(k) === use) this.#uses.delete(k);
        throw err;
      },
    );
    const use: SignalledUse = { at, sent };
    this.#uses.delete(k);
    this.#uses.set(k, use);
    while (this.#uses.size > this.limit) {
      const oldest = this.#uses.keys().next().value;
      if (oldest === undefined) break;
      this.#uses.delete(oldest);
    }
    return use;
  }

  get size(): number {
    return this.#uses.size;
  }
}

function key(workflowId: string, imageId: string): string {
  return `${workflowId}\n${imageId}`;
}
