/**
 * Labels on everything warden creates on the engine. The reaper only ever
 * touches objects carrying `warden.server`, so an operator's own containers on
 * a shared engine are never removed by mistake.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

export const LABEL = {
  tool: "warden.tool",
  call: "warden.call",
  owner: "warden.owner",
  server: "warden.server",
  /** `<hostname>/<pid>/<process start tick>`: who must be alive for this object to stay. */
  lease: "warden.lease",
  /** `pool` while a pooled container waits for its call; `egress-proxy` for warden's proxy container. */
  role: "warden.role",
} as const;

/** The lease of this process: hostname, pid and the kernel's start tick of the pid (guards against pid reuse). */
export function currentLease(): string {
  return `${hostname()}/${process.pid}/${processStartTick(process.pid) ?? "?"}`;
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; null when the pid is gone. */
export function processStartTick(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function serverLabels(serverId: string): Record<string, string> {
  return { [LABEL.server]: serverId, [LABEL.lease]: currentLease() };
}
