/**
 * How many warm containers a tool's pool should hold (issue 13 §3): enough to
 * cover the calls that arrive while replacements start. A pure function of
 * the tool's recent arrivals, so the policy is tested without an engine.
 *
 * Little's law: containers in the start pipeline = arrival rate × start time.
 * A pool holding (idle + starting) ≥ rate × start time × headroom has a warm
 * container ready for each arrival. The floor (`poolSize`) always stays; the
 * per-tool bound caps one busy tool, and the pool's total bound caps all of
 * them (a flood of calls to one tool cannot make warden start hundreds of
 * idle containers: the engine's memory and PIDs stay bounded). Without
 * arrivals in the window the target falls back to the floor, so an idle tool
 * shrinks.
 */

export interface SizingPolicy {
  /** Warm containers always kept (config `container.poolSize`). */
  floor: number;
  /** Upper bound per tool (config `container.poolMax`). */
  max: number;
  /** Arrivals older than this no longer count. */
  windowMs: number;
  /** Safety factor over rate × start time (start times vary on a loaded engine). */
  headroom: number;
}

export const SIZING_DEFAULTS = { windowMs: 10_000, headroom: 1.5 } as const;

/** A burst's rate is measured over at least this span (no division by a near-zero span). */
const MIN_SPAN_MS = 1000;

/** Arrivals per second over the recent window; 0 without arrivals in it. `arrivals` is ascending. */
export function arrivalRate(arrivals: readonly number[], now: number, windowMs: number): number {
  const recent = arrivals.filter((t) => t > now - windowMs && t <= now);
  if (recent.length === 0) return 0;
  const span = Math.min(windowMs, Math.max(MIN_SPAN_MS, now - recent[0]!));
  return (recent.length * 1000) / span;
}

/**
 * Target size (idle + starting) of one tool's pool. `startMs` is the recent
 * time a container takes to start on this engine.
 */
export function targetPoolSize(policy: SizingPolicy, arrivals: readonly number[], now: number, startMs: number): number {
  const floor = Math.max(0, Math.floor(policy.floor));
  if (floor === 0) return 0; // poolSize 0 disables the pool entirely (operator's choice)
  const max = Math.max(floor, Math.floor(policy.max));
  const rate = arrivalRate(arrivals, now, policy.windowMs);
  if (rate === 0) return floor;
  const inPipeline = (rate * Math.max(0, startMs) * policy.headroom) / 1000;
  return Math.min(max, Math.max(floor, Math.ceil(inPipeline)));
}

/** Drops arrivals that fell out of the window and keeps at most `cap` (bounded memory per tool). */
export function pruneArrivals(arrivals: number[], now: number, windowMs: number, cap = 512): void {
  let drop = 0;
  while (drop < arrivals.length && arrivals[drop]! <= now - windowMs) drop++;
  if (arrivals.length - drop > cap) drop = arrivals.length - cap;
  if (drop > 0) arrivals.splice(0, drop);
}
