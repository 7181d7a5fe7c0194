/**
 * The addresses the egress proxy refuses for every tool, also with allowPrivate (the engine host, warden's
 * egress networks, the operator's list), and the addressing of the `container` egress mode's networks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixedProxyAddress, upperHalf } from "../../../sandboxes/docker/egress-network.js";
import { parseRefused, refusedRange, withRefusedAddresses } from "../../../sandboxes/docker/egress-refusals.js";
import { containerFirewallRules } from "../../../sandboxes/docker/host-firewall.js";
import type { AuthorizeEgress } from "../../../sandboxes/docker/egress-proxy.js";

/** A rule that allows everything and "resolves" every name to the given addresses. */
const allowAll = (addresses: string[]): AuthorizeEgress => async () => ({ ok: true, grant: { pattern: "x", allowPrivate: true }, addresses });

describe("egress refusals", () => {
  test("an address in a refused range is refused even when the grant allowed private targets", async () => {
    const authorize = withRefusedAddresses(allowAll(["172.30.0.1"]), ["172.30.0.0/16"]);
    const d = await authorize("t", [{ pattern: "x", allowPrivate: true }], { scheme: "http", host: "gw.internal", port: 80 });
    assert.equal(d.ok, false);
    assert.ok(!d.ok && d.error.code === "E_CAPABILITY_DENIED" && d.denied?.includes("172.30.0.1"));
  });

  test("ANY resolved address in a refused range refuses the name; IPv4-mapped IPv6 is judged as its IPv4", async () => {
    const authorize = withRefusedAddresses(allowAll(["93.184.215.14", "::ffff:203.0.113.9"]), ["203.0.113.9"]);
    const d = await authorize("t", [], { scheme: "https", host: "two.example", port: 443 });
    assert.equal(d.ok, false);
    assert.equal(refusedRange("::ffff:203.0.113.9", parseRefused(["203.0.113.9"])), "203.0.113.9/32");
    assert.equal(refusedRange("2001:db8::1", parseRefused(["2001:db8::/32"])), "2001:db8::/32");
  });

  test("other addresses pass through unchanged, and a refusal by the wrapped rule stays that rule's", async () => {
    const ok = await withRefusedAddresses(allowAll(["93.184.215.14"]), ["10.0.0.0/8"])("t", [], { scheme: "https", host: "example.com", port: 443 });
    assert.deepEqual(ok.ok && ok.addresses, ["93.184.215.14"]);
    const inner: AuthorizeEgress = async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "not in allowlist" }, denied: "host not in allowlist" });
    const no = await withRefusedAddresses(inner, ["10.0.0.0/8"])("t", [], { scheme: "https", host: "example.com", port: 443 });
    assert.ok(!no.ok && no.denied === "host not in allowlist");
  });

  test("a refused entry that is not an address or CIDR is an error, not a silent no-op", () => {
    assert.throws(() => parseRefused(["engine.example.com"]), /not an IP address or CIDR/);
  });
});

describe("container egress networks", () => {
  test("Docker assigns addresses from the upper half; the proxy's fixed address is in the lower half, never the gateway", () => {
    assert.equal(upperHalf("172.20.0.0/16"), "172.20.128.0/17");
    assert.equal(upperHalf("192.168.176.0/20"), "192.168.184.0/21");
    assert.equal(fixedProxyAddress("172.20.0.0/16", "172.20.0.1"), "172.20.0.2");
    assert.equal(fixedProxyAddress("10.9.8.0/24", "10.9.8.254"), "10.9.8.1");
  });

  test("the firewall lets tools reach only the proxy's port: its ACCEPTs come before the bridge's DROPs, and nothing reaches the host", () => {
    const rules = containerFirewallRules({ serverId: "s1", bridge: "wdn-a", outBridge: "wdo-a", proxyIp: "172.20.0.2", proxyPort: 3128 });
    const forward = rules.filter((r) => r.chain === "DOCKER-USER").map((r) => r.args.join(" "));
    const firstDrop = forward.findIndex((a) => a.endsWith("-j DROP"));
    const accepts = forward.map((a, i) => [a, i] as const).filter(([a]) => a.endsWith("-j ACCEPT"));
    assert.equal(accepts.length, 2);
    assert.ok(accepts.every(([a, i]) => i < firstDrop && a.includes("172.20.0.2") && a.includes("3128")));
    const input = rules.filter((r) => r.chain === "INPUT" && r.binary === "iptables").map((r) => r.args.join(" "));
    assert.ok(input.some((a) => a.startsWith("-i wdn-a") && a.endsWith("REJECT")));
    assert.ok(input.some((a) => a.startsWith("-i wdo-a") && a.endsWith("REJECT")));
    assert.ok(!input.some((a) => a.includes("ACCEPT")), "no host service is admitted from either bridge");
  });
});
