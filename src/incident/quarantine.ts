export interface QuarantinePolicy {
  denials?: number | undefined;
  crashes?: number | undefined;
  windowSec?: number | undefined;
}

export interface QuarantineVerdict {
  tool: string;
  reason: string;
  counts: { denials: number; crashes: number };
  callIds: string[];
  /** Who made the refused calls: a client driving a tool into refusals is visible to the operator. */
  actors: string[];
}

/**
 * Auto-quarantine (SPEC §14): a tool that keeps hitting refusals (probing for
 * a way out) or keeps crashing its sandbox is switched off before it finds
 * one. Counts live in a sliding window per tool.
 */
export class QuarantineCounter {
  private readonly events = new Map<string, Array<{ at: number; kind: "denial" | "crash"; callId: string; actor: string }>>();

  constructor(private policy: QuarantinePolicy | undefined) {}

  setPolicy(policy: QuarantinePolicy | undefined): void {
    this.policy = policy;
  }

  /** Records one outcome; returns a verdict when the tool reaches a threshold. */
  record(tool: string, errorCode: string | null, callId: string, actor = "unknown", now = Date.now()): QuarantineVerdict | null {
    const p = this.policy;
    if (!p || (!p.denials && !p.crashes)) return null;
    const kind = errorCode === "E_CAPABILITY_DENIED" ? "denial" : errorCode === "E_SANDBOX_CRASHED" ? "crash" : null;
    if (!kind) return null;
    const windowMs = (p.windowSec ?? 60) * 1000;
    const list = (this.events.get(tool) ?? []).filter((e) => now - e.at < windowMs);
    list.push({ at: now, kind, callId, actor });
    this.events.set(tool, list);
    const denials = list.filter((e) => e.kind === "denial").length;
    const crashes = list.filter((e) => e.kind === "crash").length;
    const hit = (p.denials && denials >= p.denials) ? `${denials} capability denials` : p.crashes && crashes >= p.crashes ? `${crashes} sandbox crashes` : null;
    if (!hit) return null;
    this.events.delete(tool);
    return { tool, reason: `${hit} within ${p.windowSec ?? 60} s`, counts: { denials, crashes }, callIds: list.map((e) => e.callId), actors: [...new Set(list.map((e) => e.actor))] };
  }
}
