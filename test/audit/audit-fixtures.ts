import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { pino, type Logger } from "pino";
import type { AuditEntry, AuditRecord } from "../../src/audit/index.js";

/** A fresh temp folder, removed when the test file ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "warden-audit-"));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface CapturedLine {
  level: string;
  msg: string;
  event?: string;
  [key: string]: unknown;
}

/** A real pino logger writing into memory, so tests assert on parsed log lines (as pino's own sink()). */
export function captureLogger(): { logger: Logger; lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const logger = pino(
    { level: "trace", formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => void lines.push(JSON.parse(line) as CapturedLine) },
  );
  return { logger, lines };
}

export function sampleEntry(n: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
    callId: `call-${n}`,
    actor: "stdio",
    tool: "word_stats",
    version: "1.0.0",
    digest: "sha256:" + "a".repeat(64),
    effect: "read",
    input: { text: `hello ${n}`, nested: { z: 1, a: [n, null, "x"] } },
    outcome: "ok",
    errorCode: null,
    durationMs: 3,
    outputSha256: "b".repeat(64),
    outputBytes: 42,
    egress: [{ host: "api.example", port: 443, method: "GET", status: 200, bytes: 10 }],
    files: [{ volume: "data", path: "notes.txt", op: "read" }],
    confirmedBy: null,
    ...overrides,
  };
}

export async function readLinesOf(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  return text.split("\n").filter((l) => l.length > 0);
}

export async function readRecords(file: string): Promise<AuditRecord[]> {
  return (await readLinesOf(file)).map((l) => JSON.parse(l) as AuditRecord);
}

export async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFile(file, lines.map((l) => `${l}\n`).join(""));
}
