import type { FetchRequest, FetchResponse, HostResult } from "../../../sandboxes/executor.js";
import { toWardenError, type ErrorPayload } from "../../errors.js";
import type { EgressRecord, NetworkGrant } from "../types.js";
import { Aborted, requestAbortPayload, unlessAborted } from "./abort.js";
import { decideEgress, systemResolver, type Resolver } from "./authorize.js";
import { canonicalTarget, type CanonicalTarget } from "./allowlist.js";
import { displayHost } from "./denials.js";
import { exchange, type ExchangeResult } from "./exchange.js";
import { PinnedAgent } from "./pinned-agent.js";
import { isFollowedRedirect, nextHop } from "./redirects.js";
import { parseToolUrl } from "./tool-url.js";
import { prepareRequest, type PreparedRequest } from "./request-policy.js";

export interface EgressFetchOptions {
  tool: string;
  grants: NetworkGrant[];
  /** Default 1 MiB, at most 16 MiB. */
  maxRequestBytes?: number;
  /**
   * Default 8 MiB (callers pass the tool's outputBytes × 4), at most 64 MiB.
   * Past it the download is stopped and the call gets E_CAPABILITY_DENIED —
   * not E_OUTPUT_TOO_LARGE, which SPEC §9 keeps for the tool's own output.
   * A request body past maxRequestBytes is E_CAPABILITY_DENIED too.
   */
  maxResponseBytes?: number;
  /** Default 5, at most 20. */
  maxRedirects?: number;
  /** One record per attempt/hop, refused ones too. */
  onEgress(record: EgressRecord): void;
  /** Extra trusted CA certificates (PEM) for internal services; added to Node's roots, never replacing them. */
  extraCa?: (string | Buffer)[];
  /** DNS resolver (tests). Default: the system resolver (getaddrinfo). */
  resolve?: Resolver;
}

const MiB = 1024 * 1024;
const bounded = (value: number | undefined, fallback: number, max: number) =>
  Math.min(Math.max(Number.isFinite(value) ? Math.floor(value!) : fallback, 0), max);

type Hop = { url: URL; request: PreparedRequest };

/**
 * The host side of ctx.fetch. Every hop — the first request and each
 * redirect — goes through the full check (allowlist, DNS, address policy,
 * pinned connect, remote-address check) and is recorded. Never rejects.
 */
export function createEgressFetch(options: EgressFetchOptions): (request: FetchRequest, signal: AbortSignal) => Promise<HostResult<FetchResponse>> {
  const limits = {
    maxRequestBytes: bounded(options.maxRequestBytes, MiB, 16 * MiB),
    maxResponseBytes: bounded(options.maxResponseBytes, 8 * MiB, 64 * MiB),
    maxRedirects: bounded(options.maxRedirects, 5, 20),
  };
  const resolve = options.resolve ?? systemResolver;
  // One pool per fetch function (one tool call): connections are reused
  // within the call only, and only under the rule in PinnedAgent.
  const agent = new PinnedAgent();

  const fetchFollowingRedirects = async (request: FetchRequest, signal: AbortSignal): Promise<HostResult<FetchResponse>> => {
    let hop: Hop;
    try {
      hop = { url: parseToolUrl(request?.url), request: prepareRequest(options.tool, request ?? ({} as FetchRequest), limits.maxRequestBytes) };
    } catch (err) {
      const error = toWardenError(err);
      const record: EgressRecord = { host: safeHost(request?.url), port: 0, method: String(request?.method ?? "GET").slice(0, 16), status: null, bytes: 0 };
      options.onEgress(error.code === "E_CAPABILITY_DENIED" ? { ...record, denied: error.message } : record);
      return { ok: false, error: error.toPayload() };
    }
    for (let redirects = 0; ; redirects++) {
      const outcome = await runHop(hop, agent, options, limits.maxResponseBytes, resolve, signal);
      if (!outcome.ok) return outcome;
      const next = nextHop(hop, outcome.response);
      if (next === null) return { ok: true, value: toFetchResponse(hop.url, outcome.response) };
      if ("error" in next) {
        const refused = next.error.code === "E_CAPABILITY_DENIED" ? { denied: next.error.message } : {};
        options.onEgress({ host: safeHost(next.location), port: 0, method: hop.request.method, status: null, bytes: 0, ...refused });
        return { ok: false, error: next.error };
      }
      if (redirects >= limits.maxRedirects)
        return { ok: false, error: { code: "E_TOOL_FAILED", message: `network: more than ${limits.maxRedirects} redirects starting from ${request.url ? safeHost(request.url) : "the request"}; stopped` } };
      hop = next;
    }
  };
  // The call's end aborts its signal (broker per-call controller): every connection of the call closes then,
  // pooled idle ones included — none may outlive the call (the review left 192 sockets open after 6 calls).
  let watched: AbortSignal | undefined;
  return async (request, signal) => {
    if (watched !== signal) {
      watched = signal;
      if (signal.aborted) agent.destroy();
      else signal.addEventListener("abort", () => agent.destroy(), { once: true });
    }
    try {
      return await fetchFollowingRedirects(request, signal);
    } catch (err) {
      // Only a throwing onEgress sink gets here; the tool still gets an answer, never a rejection.
      return { ok: false, error: toWardenError(err).toPayload() };
    }
  };
}

async function runHop(hop: Hop, agent: PinnedAgent, options: EgressFetchOptions, maxResponseBytes: number, resolve: Resolver, signal: AbortSignal): Promise<{ ok: true; response: ExchangeResult } | { ok: false; error: ErrorPayload }> {
  const target = targetOf(hop.url);
  const record: EgressRecord = { host: displayHost(target), port: target.port, method: hop.request.method, status: null, bytes: 0 };
  // Exactly one record per hop. An abort (the call's deadline or end) records it synchronously, inside abort():
  // the broker writes the audit record right after, and a request already on the wire must be in it.
  let recorded = false;
  const emit = (r: EgressRecord) => {
    if (recorded) return;
    recorded = true;
    options.onEgress(r);
  };
  const onAbort = () => emit({ ...record });
  if (!signal.aborted) signal.addEventListener("abort", onAbort, { once: true });
  const fail = (error: ErrorPayload, denied?: string) => {
    emit(denied === undefined ? record : { ...record, denied });
    return { ok: false as const, error };
  };
  try {
    const decision = await unlessAborted(decideEgress(options.tool, options.grants, target, resolve), signal);
    if (!decision.ok) return fail(decision.error, decision.denied);
    const pinned = { ...target, addresses: decision.addresses, allowPrivate: decision.grant.allowPrivate, ...(options.extraCa ? { extraCa: options.extraCa } : {}) };
    const response = await exchange(
      agent,
      pinned,
      hop.request,
      { path: `${hop.url.pathname}${hop.url.search}`, hostHeader: hop.url.host, maxResponseBytes, skipBody: (status, headers) => isFollowedRedirect(status, headers) },
      signal,
      (n) => (record.bytes = n),
    );
    record.status = response.status;
    record.bytes = response.bytes;
    emit(record);
    return { ok: true, response };
  } catch (err) {
    if (err instanceof Aborted) return fail(requestAbortPayload(signal, record.host));
    const warden = toWardenError(err);
    const denied = typeof warden.details?.denied === "string" ? warden.details.denied : undefined;
    return fail(warden.toPayload(), denied);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function targetOf(url: URL): CanonicalTarget {
  const scheme = url.protocol === "https:" ? "https" : "http";
  const port = url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port);
  const canonical = canonicalTarget({ scheme, host: url.hostname, port });
  // parseToolUrl already accepted the URL, so its host is valid; keep the raw form for the refusal message otherwise.
  return canonical ?? { scheme, host: url.hostname, ip: null, port };
}

function toFetchResponse(url: URL, response: ExchangeResult): FetchResponse {
  const body = response.body ?? Buffer.alloc(0);
  return {
    status: response.status,
    statusText: response.statusText,
    url: url.href,
    headers: response.headers,
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
  };
}

function safeHost(raw: unknown): string {
  try {
    return new URL(String(raw)).hostname.slice(0, 253);
  } catch {
    return "(invalid url)";
  }
}
