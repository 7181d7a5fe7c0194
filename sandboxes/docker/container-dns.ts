/**
 * No resolver inside a networked tool container (issue 17, item 10).
 *
 * On a user-defined network Docker always runs its embedded DNS server at
 * 127.0.0.11 inside the container's network namespace, and it answers PTR
 * queries for every container on the network: `gethostbyaddr` told a tool the
 * short ids of other tool containers and warden's server id (the network
 * name), ICC off or not. Docker has no switch to turn it off, so warden
 * refuses every packet to 127.0.0.11 in the container's own namespace
 * (`OUTPUT -d 127.0.0.11 -j REJECT`, after Docker's DNAT, UDP and TCP). The
 * container needs no DNS: the proxy resolves and checks names.
 *
 * The rule is installed after `start` but before the call: the entrypoint gate
 * (gate.ts) runs nothing of the tool until then. The tool holds no
 * CAP_NET_ADMIN, so it cannot remove it. Needs root and nsenter + iptables on
 * the engine's host — as the host firewall does; without them networked tools
 * fail closed.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { WardenError } from "../../src/errors.js";

const run = promisify(execFile);

export const EMBEDDED_DNS = "127.0.0.11";

export async function blockEmbeddedDns(pid: number): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 0) throw new WardenError("E_SANDBOX_UNAVAILABLE", "the tool container has no process to close its resolver in");
  try {
    await run("nsenter", [`--net=/proc/${pid}/ns/net`, "iptables", "-w", "5", "-I", "OUTPUT", "-d", EMBEDDED_DNS, "-j", "REJECT"], { timeout: 10_000 });
  } catch (err) {
    const detail = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split("\n")[0];
    throw new WardenError(
      "E_SANDBOX_UNAVAILABLE",
      `cannot close the embedded DNS resolver of a networked tool container (${detail}); warden needs root, nsenter and iptables on the engine's host`,
    );
  }
}
