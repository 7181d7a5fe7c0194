/**
 * Per-call timing marks for the benchmark's breakdown (bench/breakdown-bench.ts), off unless WARDEN_TIMINGS=1.
 * With the flag off every function returns at once: no clock reads, no allocation on the hot path.
 * Marks are performance.now() values of THIS process; the worker reports durations, never clock values,
 * so nothing depends on clocks agreeing between processes. At exit the records are written as JSON lines
 * to WARDEN_TIMINGS_FILE (or stderr).
 */
import { writeFileSync } from "node:fs";

export const TIMINGS_ON = process.env.WARDEN_TIMINGS === "1";

/** Durations measured inside the worker, ms: queued there, waiting for a context, apply, after apply, total. */
export type WorkerTimings = [queueMs: number, contextMs: number, applyMs: number, afterMs: number, totalMs: number];

const open = new Map<string, Record<string, unknown>>();
const finished: Array<Record<string, unknown>> = [];
const MAX_RECORDS = 200_000;

export function mark(callId: string, name: string): void {
  if (!TIMINGS_ON) return;
  let row = open.get(callId);
  if (!row) open.set(callId, (row = { wall: Date.now() }));
  row[name] = performance.now();
}

export function attach(callId: string, name: string, value: unknown): void {
  if (!TIMINGS_ON) return;
  const row = open.get(callId);
  if (row) row[name] = value;
}

export function finish(callId: string): void {
  if (!TIMINGS_ON) return;
  const row = open.get(callId);
  open.delete(callId);
  if (row && finished.length < MAX_RECORDS) finished.push(row);
}

if (TIMINGS_ON) {
  process.on("exit", () => {
    if (finished.length === 0) return;
    const text = finished.map((r) => JSON.stringify(r)).join("\n") + "\n";
    const file = process.env.WARDEN_TIMINGS_FILE;
    try {
      if (file) writeFileSync(file, text, { flag: "a" });
      else process.stderr.write(text);
    } catch {
      // a benchmark aid: never let it change how the process exits
    }
  });
}
