import { spawn } from "node:child_process";
import type { Logger } from "pino";
import { redactText } from "../capabilities/redaction.js";

export type AlertKind = "quarantine" | "sandbox_crash" | "audit_write_failed" | "approved_tool_drift" | "audit_checkpoint_failed" | "tool_withheld";

export interface AlertEvent {
  kind: AlertKind;
  tool: string | null;
  owner: string | null;
  reason: string;
  counts?: Record<string, number>;
  callIds?: string[];
  actors?: string[];
  /** Quarantine: switched off for one actor or for every client (SPEC §14). */
  scope?: "actor" | "tool";
  actor?: string;
  ts?: string;
}

export interface AlertOptions {
  webhook?: string | undefined;
  command?: string[] | undefined;
  logger: Logger;
  /** Secret values: never leave in an alert. */
  secrets?: () => readonly string[];
  retries?: number;
  timeoutMs?: number;
}

export interface Alerter {
  raise(event: AlertEvent): void;
  /** Resolves when every alert raised so far was delivered or gave up (tests, shutdown). */
  drain(): Promise<void>;
}

/**
 * Owner escalation (SPEC §14): a JSON POST to `alerts.webhook` and/or the event
 * on stdin of `alerts.command`. Delivery runs in the background with bounded
 * retries and never blocks or fails a call.
 */
export function createAlerter(options: AlertOptions): Alerter {
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  return {
    raise(event) {
      const body = redactText(JSON.stringify({ source: "mcp-warden", ts: new Date().toISOString(), ...event }), options.secrets?.() ?? []);
      options.logger.warn({ alert: event.kind, tool: event.tool, reason: event.reason }, "alert raised");
      if (options.webhook) track(postWithRetries(options.webhook, body, options));
      if (options.command?.length) track(runCommand(options.command, body, options));
    },
    async drain() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}

async function postWithRetries(url: string, body: string, options: AlertOptions): Promise<void> {
  const attempts = (options.retries ?? 3) + 1;
  for (let i = 0; i < attempts; i++) {
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(options.timeoutMs ?? 5000), redirect: "error" });
      await res.arrayBuffer().catch(() => {});
      if (res.ok) return;
      options.logger.warn({ status: res.status, attempt: i + 1 }, "alert webhook answered with an error");
    } catch (err) {
      options.logger.warn({ err: (err as Error).message, attempt: i + 1 }, "alert webhook unreachable");
    }
    if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 200 * 2 ** i));
  }
  options.logger.error("alert webhook gave up after bounded retries");
}

function runCommand(command: string[], body: string, options: AlertOptions): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "ignore", "pipe"], timeout: options.timeoutMs ?? 10_000 });
    child.on("error", (err) => {
      options.logger.error({ err: err.message }, "alert command failed to start");
      resolve();
    });
    child.on("exit", (code) => {
      if (code !== 0) options.logger.warn({ code }, "alert command exited non-zero");
      resolve();
    });
    child.stdin.on("error", () => {});
    child.stdin.end(body + "\n");
  });
}
