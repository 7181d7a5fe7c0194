/**
 * Talking to the Docker engine without ever hanging a call: every engine
 * request is bounded, and a dead or missing engine becomes
 * E_SANDBOX_UNAVAILABLE so the server keeps serving isolate tools.
 */
import Dockerode from "dockerode";
import { WardenError } from "../../src/errors.js";

/**
 * Upper bound of one engine request. Generous: measured here, 20 concurrent creates on a loaded 2-core
 * host take over 10 s. A missing or refused engine fails at once (ENOENT/ECONNREFUSED); this bound is
 * for a black-holed DOCKER_HOST, and the call's own deadline usually ends the wait first.
 */
export const ENGINE_TIMEOUT_MS = 30_000;

export function defaultDocker(): Dockerode {
  // Dockerode reads DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH itself.
  return new Dockerode();
}

/**
 * Is the engine on this host? A unix socket (the default, or DOCKER_HOST=unix://…) is; a TCP DOCKER_HOST
 * (a remote engine, a Docker-in-Docker sidecar) is not: its bridges, gateways and firewall are not ours.
 */
export function engineIsLocal(docker: Dockerode): boolean {
  return Boolean((docker.modem as { socketPath?: unknown }).socketPath);
}

/** Races an engine request against a timeout; connection failures become E_SANDBOX_UNAVAILABLE. */
export async function engineCall<T>(what: string, request: Promise<T>, timeoutMs = ENGINE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WardenError("E_SANDBOX_UNAVAILABLE", `container engine did not answer (${what}) within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([request.catch((err: unknown) => Promise.reject(engineError(what, err))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const CONNECTION_CODES = new Set(["ENOENT", "ECONNREFUSED", "ECONNRESET", "EACCES", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE"]);

/** Maps a dockerode failure to a WardenError without leaking host paths (socket path) into the message. */
export function engineError(what: string, err: unknown): WardenError {
  if (err instanceof WardenError) return err;
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
  if (e?.code && CONNECTION_CODES.has(e.code))
    return new WardenError("E_SANDBOX_UNAVAILABLE", `container engine is not reachable (${what}: ${e.code}); is Docker running?`);
  const detail = String(e?.json?.message ?? e?.message ?? err).trim();
  const details = { status: e?.statusCode };
  if (e?.statusCode === 404 && /image/i.test(detail))
    return new WardenError("E_SANDBOX_UNAVAILABLE", `${what}: ${detail}; build it with "warden images build"`, details);
  return new WardenError("E_SANDBOX_UNAVAILABLE", `container engine refused ${what}: ${detail}`, details);
}

export function isNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; details?: { status?: number } };
  return e?.statusCode === 404 || e?.details?.status === 404;
}

/** Is an engine reachable at all? `true`, or the reason it is not (for skips and startup logs). */
export async function pingEngine(docker: Dockerode, timeoutMs = 3000): Promise<true | string> {
  try {
    await engineCall("ping", docker.ping() as Promise<unknown>, timeoutMs);
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}
