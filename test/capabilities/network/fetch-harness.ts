import assert from "node:assert/strict";
import type { FetchRequest, FetchResponse, HostResult } from "../../../sandboxes/executor.js";
import { createEgressFetch, type EgressFetchOptions } from "../../../src/capabilities/network/index.js";
import type { EgressRecord, NetworkGrant } from "../../../src/capabilities/types.js";

export const TOOL = "fetch_weather";

export const grant = (pattern: string, allowPrivate = false): NetworkGrant => ({ pattern, allowPrivate });

/** createEgressFetch for TOOL, collecting the egress records. */
export function egress(grants: NetworkGrant[], extra: Partial<EgressFetchOptions> = {}) {
  const records: EgressRecord[] = [];
  const fetch = createEgressFetch({ tool: TOOL, grants, onEgress: (r) => records.push(r), ...extra });
  const call = (request: FetchRequest, signal: AbortSignal = new AbortController().signal) => fetch(request, signal);
  return { fetch: call, records };
}

export function okValue(result: HostResult<FetchResponse>): FetchResponse {
  if (!result.ok) assert.fail(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

export function refusal(result: HostResult<FetchResponse>, code: string, message: RegExp): void {
  assert.equal(result.ok, false, "expected a refusal");
  if (result.ok) return;
  assert.equal(result.error.code, code, result.error.message);
  assert.match(result.error.message, message);
}

export const text = (r: FetchResponse) => Buffer.from(r.body).toString("utf8");
