import { pino, type Logger } from "pino";

/**
 * Operational logs go to stderr (fd 2) and never to stdout: stdout carries the
 * stdio MCP transport, and one stray line there corrupts the protocol.
 */
export function createLogger(options: { level?: string; redactValues?: () => readonly string[] } = {}): Logger {
  const level = options.level ?? process.env.WARDEN_LOG_LEVEL ?? "info";
  return pino(
    {
      level,
      base: { svc: "mcp-warden" },
      redact: { paths: ["*.authorization", "*.token", "*.password", "headers.authorization"], censor: "[REDACTED]" },
      formatters: { level: (label) => ({ level: label }) },
      ...(options.redactValues
        ? { hooks: {
            logMethod(args, method) {
              const secrets = options.redactValues!();
              if (secrets.length === 0) return method.apply(this, args);
              const scrub = (v: unknown): unknown => (typeof v === "string" ? redactString(v, secrets) : v);
              return method.apply(this, args.map(scrub) as Parameters<typeof method>);
            },
          } }
        : {}),
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export function redactString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("[REDACTED]");
  return out;
}

export type { Logger };
