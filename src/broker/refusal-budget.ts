/**
 * Refused calls per identity (#18.7): a token bucket per actor. A client that
 * keeps getting refusals (unknown tools, bad arguments, disabled or
 * unconfirmed tools) spends its budget; once spent, the HTTP face refuses that
 * token's requests at the door (429) until the bucket refills, so a refusal
 * loop cannot grow the audit log faster than the refill rate.
 */
export const REFUSAL_BURST = 60;
export const REFUSALS_PER_SECOND = 10;

/** Codes that are the caller's doing. Not E_BUSY/E_CANCELLED (load and disconnects are not abuse). */
const COUNTED = new Set(["E_UNKNOWN_TOOL", "E_FORBIDDEN", "E_DISABLED", "E_NOT_APPROVED", "E_INPUT_INVALID", "E_NOT_CONFIRMED"]);

export class RefusalBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst = REFUSAL_BURST,
    private readonly perSecond = REFUSALS_PER_SECOND,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one refused call of `actor` (only codes that are the caller's doing count). */
  spend(actor: string, code: string | null): void {
    if (!code || !COUNTED.has(code)) return;
    const b = this.refill(actor);
    b.tokens -= 1;
    // Forget identities that are back to a full bucket; keeps the map bounded by active abusers.
    if (this.buckets.size > 10_000) for (const [k, v] of this.buckets) if (v.tokens >= this.burst) this.buckets.delete(k);
  }

  /** Seconds until `actor` may be served again; 0 when it may now. */
  retryAfter(actor: string): number {
    const b = this.buckets.get(actor);
    if (!b) return 0;
    const tokens = this.refill(actor).tokens;
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perSecond);
  }

  private refill(actor: string): { tokens: number; at: number } {
    const t = this.now();
    const b = this.buckets.get(actor) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.buckets.set(actor, b);
    return b;
  }
}
