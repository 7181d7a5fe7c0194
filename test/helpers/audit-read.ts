import { readFileSync } from "node:fs";

export interface AuditLine {
  seq: number;
  callId: string;
  actor: string;
  tool: string;
  outcome: string;
  errorCode: string | null;
  input: unknown;
  confirmedBy: string | null;
  [k: string]: unknown;
}

/** Parsed records of an audit file (the test asserts on what an auditor would read). */
export function readAudit(file: string): AuditLine[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AuditLine);
}
