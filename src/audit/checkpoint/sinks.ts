import { spawn } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { checkpointLine, type Checkpoint } from "./checkpoint.js";

/** Where checkpoints go; `deliver` rejects when the checkpoint did not arrive (it is then retried). */
export interface CheckpointSink {
  readonly name: string;
  deliver(checkpoint: Checkpoint): Promise<void>;
}

export interface SinkConfig {
  file?: string | undefined;
  webhook?: string | undefined;
  command?: string[] | undefined;
}

const DELIVERY_TIMEOUT_MS = 10_000;

export function createSinks(config: SinkConfig): CheckpointSink[] {
  const sinks: CheckpointSink[] = [];
  if (config.file) sinks.push(fileSink(config.file));
  if (config.webhook) sinks.push(webhookSink(config.webhook));
  if (config.command?.length) sinks.push(commandSink(config.command));
  return sinks;
}

/** One line per checkpoint, appended and fsync'd (a file outside the audit folder: checked at config load). */
function fileSink(file: string): CheckpointSink {
  return {
    name: "file",
    async deliver(checkpoint) {
      await mkdir(dirname(file), { recursive: true });
      const handle = await open(file, "a", 0o600);
      try {
        await handle.write(`${checkpointLine(checkpoint)}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
  };
}

/** POST of the checkpoint JSON; any non-2xx, a redirect or a timeout is a failed delivery. */
function webhookSink(url: string): CheckpointSink {
  return {
    name: "webhook",
    async deliver(checkpoint) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: checkpointLine(checkpoint),
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        redirect: "error",
      });
      await res.arrayBuffer().catch(() => {});
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
    },
  };
}

/** argv (no shell), the checkpoint as one JSON line on stdin; delivered when it exits 0. */
function commandSink(command: string[]): CheckpointSink {
  return {
    name: "command",
    deliver(checkpoint) {
      return new Promise<void>((resolve, reject) => {
        const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "ignore", "pipe"], timeout: DELIVERY_TIMEOUT_MS });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => {
          if (stderr.length < 500) stderr += d.toString("utf8");
        });
        child.on("error", (err) => reject(new Error(`command failed to start: ${err.message}`)));
        child.on("close", (code, signal) => {
          if (code === 0) resolve();
          else reject(new Error(`command exited ${code ?? signal}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ""}`));
        });
        child.stdin.on("error", () => {});
        child.stdin.end(`${checkpointLine(checkpoint)}\n`);
      });
    },
  };
}
