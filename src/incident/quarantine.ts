export interface QuarantinePolicy {
  denials?: number | undefined;
  crashes?: number | undefined;
  windowSec?: number | undefined;
}

export interface QuarantineVerdict {
  tool: string;
  /**
   * `actor`: one client drove the tool into refusals — the tool is switched off
   * for that actor only. `tool`: crashes (the tool's own doing) or two or more
   * actors reaching the count in the window — switched off for everybody.
   */
  scope: "actor" | "tool";
  /** The actor quarantined (scope `actor`) or the one whose call tripped the tool-wide quarantine. */
  actor: string;
  reason: string;
  counts: { denials: number; crashes: number };
  callIds: string[];
  /** Who made the refused calls: a client driving a tool into refusals is visible to the operator. */
  actors: string[];
}

interface Event {
  at: number;
  kind: "denial" | "crash";
  callId: string;
  actor: string;
}

/**
 * Auto-quarantine (SPEC §14). A tool that keeps crashing its sandbox is
 * switched off for everybody. Capability denials are counted **per actor**:
 * arguments come from the client, so one tenant sending `..` paths or
 * unlisted hosts must never switch a tool off for the other tenants — reaching
 * the count quarantines the tool for that actor only. When two or more actors
 * reach it within the window, the tool itself is the likelier culprit (a tool
 * probing for a way out) and it is switched off for everybody.
 */
export class QuarantineCounter {
  private readonly events = new Map<string, Event[]>();
  /** tool → actor → when that actor reached the denial count. */
  private readonly trips = new Map<string, Map<string, number>>();

  constructor(private policy: QuarantinePolicy | undefined) {}

  setPolicy(policy: QuarantinePolicy | undefined): void {
    this.policy = policy;
  }

  /** Records one outcome; returns a verdict when an actor or the tool reaches a threshold. */
  record(tool: string, errorCode: string | null, callId: string, actor = "unknown", now = Date.now()): QuarantineVerdict | null {
    const p = this.policy;
    if (!p || (!p.denials && !p.crashes)) return null;
    const kind = errorCode === "E_CAPABILITY_DENIED" ? "denial" : errorCode === "E_SANDBOX_CRASHED" ? "crash" : null;
    if (!kind) return null;
    const windowSec = p.windowSec ?? 60;
    const windowMs = windowSec * 1000;
    const list = (this.events.get(tool) ?? []).filter((e) => now - e.at < windowMs);
    list.push({ at: now, kind, callId, actor });
    this.events.set(tool, list);
    const crashes = list.filter((e) => e.kind === "crash");
    if (kind === "crash" && p.crashes && crashes.length >= p.crashes) {
      this.forget(tool);
      return verdict(tool, "tool", actor, `${crashes.length} sandbox crashes within ${windowSec} s`, list);
    }
    if (kind !== "denial" || !p.denials) return null;
    const mine = list.filter((e) => e.kind === "denial" && e.actor === actor);
    if (mine.length < p.denials) return null;
    // This actor reached the count: its events are spent, its trip is remembered for the window.
    this.events.set(tool, list.filter((e) => !(e.kind === "denial" && e.actor === actor)));
    const trips = this.trips.get(tool) ?? new Map<string, number>();
    for (const [a, at] of trips) if (now - at >= windowMs) trips.delete(a);
    trips.set(actor, now);
    this.trips.set(tool, trips);
    if (trips.size >= 2) {
      const actors = [...trips.keys()];
      this.forget(tool);
      return verdict(tool, "tool", actor, `${actors.length} actors (${actors.join(", ")}) each reached ${p.denials} capability denials within ${windowSec} s`, mine, actors);
    }
    return verdict(tool, "actor", actor, `${mine.length} capability denials from ${actor} within ${windowSec} s`, mine);
  }

  private forget(tool: string): void {
    this.events.delete(tool);
    this.trips.delete(tool);
  }
}

function verdict(tool: string, scope: "actor" | "tool", actor: string, reason: string, events: Event[], actors?: string[]): QuarantineVerdict {
  return {
    tool,
    scope,
    actor,
    reason,
    counts: { denials: events.filter((e) => e.kind === "denial").length, crashes: events.filter((e) => e.kind === "crash").length },
    callIds: events.map((e) => e.callId),
    actors: actors ?? [...new Set(events.map((e) => e.actor))],
  };
}
