/**
 * PID 1 of warden's egress proxy container (image warden/egress:1, issue 13 §2): the same `EgressProxy` and
 * the same `authorizeEgress` as warden's in-process mode, fed by the control channel (egress-control.ts)
 * instead of direct calls. Listens on its address on the tool network only; connects out through its
 * second (outbound) network. Exits when warden closes stdin: a proxy never outlives its server.
 *
 *   node egress-proxy-main.js --listen <ip>:<port> [--refuse <addr|cidr>,...]
 */
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { authorizeEgress, boundedEgressRecord } from "../../src/capabilities/network/index.js";
import type { NetworkGrant } from "../../src/capabilities/types.js";
import type { ControlCommand, ControlEvent } from "./egress-control.js";
import { EgressProxy } from "./egress-proxy.js";
import { withRefusedAddresses } from "./egress-refusals.js";

function send(event: ControlEvent): void {
  // stdout is a pipe: writes are synchronous and ordered, so a record written before an ack arrives before it.
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Every address of this container's interfaces: the proxy must never connect to itself. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((i) => (i ? [i.address] : []));
}

/** The gateways of this container's IPv4 routes (/proc/net/route, hex little-endian): the engine host. */
function routeGateways(): string[] {
  let table = "";
  try {
    table = readFileSync("/proc/net/route", "utf8");
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const hex = line.trim().split(/\s+/)[2];
    if (!hex || !/^[0-9A-Fa-f]{8}$/.test(hex) || hex === "00000000") continue;
    const n = Number.parseInt(hex, 16);
    out.add([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join("."));
  }
  return [...out];
}

function isGrant(g: unknown): g is NetworkGrant {
  const v = g as NetworkGrant;
  return typeof v?.pattern === "string" && typeof v.allowPrivate === "boolean";
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { listen: { type: "string" }, refuse: { type: "string", default: "" } } });
  const m = /^(.+):(\d+)$/.exec(values.listen ?? "");
  if (!m) throw new Error("usage: egress-proxy-main --listen <ip>:<port> [--refuse a,b]");
  const refused = [...values.refuse.split(",").filter((s) => s.trim() !== ""), ...interfaceAddresses(), ...routeGateways()];
  const proxy = new EgressProxy({ authorize: withRefusedAddresses(authorizeEgress, refused) });
  const port = await proxy.listen(m[1]!, Number(m[2]));
  // For warden's log only: a sample, so the line stays short whatever the operator's list holds.
  send({ op: "ready", address: m[1]!, port, refused: refused.slice(0, 64) });

  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (line) => {
    let command: ControlCommand;
    try {
      command = JSON.parse(line) as ControlCommand;
    } catch {
      process.stderr.write("egress proxy: ignored a control line that is not JSON\n");
      return;
    }
    if (command.op === "bind" && typeof command.ip === "string" && Array.isArray(command.grants) && command.grants.every(isGrant)) {
      const { ip, callId } = command;
      // Every text a tool controls is cut (hosts, methods, reasons): no request can make a control line
      // longer than warden accepts, which would end the channel and restart the proxy for every tool.
      proxy.bind(ip, { callId, tool: String(command.tool), grants: command.grants, onEgress: (record) => send({ op: "egress", ip, callId, record: boundedEgressRecord(record) }) });
      send({ op: "bound", seq: command.seq });
    } else if (command.op === "unbind" && typeof command.ip === "string") {
      // unbind reports the binding's still-open exchanges synchronously, so they precede the ack.
      proxy.unbind(command.ip);
      send({ op: "unbound", seq: command.seq });
    } else if (command.op === "sync") send({ op: "synced", seq: command.seq });
    else process.stderr.write("egress proxy: ignored an unknown control command\n");
  });
  // warden is gone (or closed us): nothing may be proxied without a listener for its records.
  lines.on("close", () => void proxy.close().finally(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`egress proxy: ${(err as Error).message}\n`);
  process.exit(1);
});
