import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authorizeEgress, type EgressTarget } from "../../../src/capabilities/network/index.js";
import { decideEgress, type Resolver } from "../../../src/capabilities/network/authorize.js";
import type { NetworkGrant } from "../../../src/capabilities/types.js";

const grant = (pattern: string, allowPrivate = false): NetworkGrant => ({ pattern, allowPrivate });
const https = (host: string, port = 443): EgressTarget => ({ scheme: "https", host, port });

/** A resolver that must not be reached: refusals of the allowlist happen before DNS. */
const noDns: Resolver = async (host) => assert.fail(`DNS was queried for ${host}`);
const fakeDns = (table: Record<string, string[]>): Resolver => async (host) => table[host] ?? assert.fail(`unexpected lookup ${host}`);

async function denied(grants: NetworkGrant[], target: EgressTarget, message: RegExp, resolve: Resolver = noDns): Promise<void> {
  const d = await decideEgress("fetch_weather", grants, target, resolve);
  assert.equal(d.ok, false);
  if (d.ok) return;
  assert.equal(d.error.code, "E_CAPABILITY_DENIED");
  assert.match(d.error.message, message);
}

describe("allowlist matching", () => {
  test("a host not in the allowlist is refused, naming the tool and the fix", async () => {
    await denied([grant("api.example.com")], https("evil.example"),
      /^network: host evil\.example is not in the allowlist of fetch_weather; add it to the manifest and the operator's grant, then re-approve$/);
  });

  test("*.example.org matches subdomains but not example.org nor evil-example.org", async () => {
    const grants = [grant("*.example.org")];
    const dns = fakeDns({ "a.example.org": ["93.184.216.34"], "a.b.example.org": ["93.184.216.34"] });
    assert.equal((await decideEgress("t", grants, https("a.example.org"), dns)).ok, true);
    assert.equal((await decideEgress("t", grants, https("a.b.example.org"), dns)).ok, true);
    await denied(grants, https("example.org"), /host example\.org is not in the allowlist/);
    await denied(grants, https("evil-example.org"), /host evil-example\.org is not in the allowlist/);
    await denied(grants, https("example.org.evil.com"), /not in the allowlist/);
  });

  test("a port that is not granted is refused, naming the granted port", async () => {
    await denied([grant("api.example.com")], https("api.example.com", 8443), /port 8443 is not granted for api\.example\.com to fetch_weather \(granted: 443\)/);
  });

  test("http is refused when only https is granted (and vice versa)", async () => {
    await denied([grant("api.example.com")], { scheme: "http", host: "api.example.com", port: 443 }, /http:\/\/ is not granted for api\.example\.com/);
    await denied([grant("api.example.com")], { scheme: "http", host: "api.example.com", port: 80 }, /http:\/\/ is not granted/);
    await denied([grant("http://legacy.example.com")], https("legacy.example.com", 80), /https:\/\/ is not granted/);
  });

  test("an allowed DNS host reached by an IP literal is refused", async () => {
    await denied([grant("api.example.com")], https("93.184.216.34"), /host 93\.184\.216\.34 is not in the allowlist.*IP-literal pattern/);
    await denied([grant("*.example.com")], https("[2606:4700::1]"), /host \[2606:4700::1\] is not in the allowlist/);
  });

  test("an IP-literal pattern matches that exact address in any spelling", async () => {
    const grants = [grant("93.184.216.34")];
    for (const host of ["93.184.216.34", "1572395042", "0x5DB8D822", "0135.0270.0330.042"]) {
      const d = await decideEgress("t", grants, https(host), noDns);
      assert.deepEqual(d.ok && d.addresses, ["93.184.216.34"], host);
    }
    await denied(grants, https("93.184.216.35"), /not in the allowlist/);
  });

  test("targets that are not plain hosts are refused", async () => {
    for (const host of ["api.example.com/x", "user@api.example.com", "api.example.com:8443", "", "a b"]) {
      await denied([grant("api.example.com")], https(host), /not a valid host|not in the allowlist/);
    }
  });

  test("the most specific grant wins; on a tie the one without allowPrivate", async () => {
    const dns = fakeDns({ "db.example.org": ["10.0.0.5"] });
    await denied([grant("*.example.org", true), grant("db.example.org")], https("db.example.org"), /10\.0\.0\.5 \(private\)/, dns);
    await denied([grant("db.example.org", true), grant("db.example.org")], https("db.example.org"), /private/, dns);
    assert.equal((await decideEgress("t", [grant("db.example.org", true), grant("*.example.org")], https("db.example.org"), dns)).ok, true);
  });
});

describe("address policy on resolved addresses", () => {
  test("a name with ANY refused address is refused, with the allowPrivate hint", async () => {
    const dns = fakeDns({ "api.example.com": ["93.184.216.34", "10.0.0.7"] });
    await denied([grant("api.example.com")], https("api.example.com"),
      /^network: api\.example\.com resolved to 10\.0\.0\.7 \(private\), which is refused; the operator can allow it with \{"host": "api\.example\.com", "allowPrivate": true\} in grants\.fetch_weather\.network$/, dns);
  });

  test("all-public addresses pass and are returned for pinning", async () => {
    const dns = fakeDns({ "api.example.com": ["93.184.216.34", "2606:4700::1"] });
    const d = await decideEgress("t", [grant("api.example.com")], https("api.example.com"), dns);
    assert.deepEqual(d.ok && d.addresses, ["93.184.216.34", "2606:4700::1"]);
  });

  test("the metadata address is refused in every spelling even when literally allowed", async () => {
    const grants = [grant("169.254.169.254"), grant("http://169.254.169.254"), grant("[::ffff:169.254.169.254]")];
    for (const host of ["169.254.169.254", "2852039166", "0xA9FEA9FE", "0251.0376.0251.0376"]) {
      await denied(grants, https(host), /169\.254\.169\.254 is link-local \(cloud metadata\), which is refused/);
      await denied(grants, { scheme: "http", host, port: 80 }, /link-local \(cloud metadata\)/);
    }
    for (const host of ["[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "::ffff:a9fe:a9fe"]) {
      await denied(grants, https(host), /\[::ffff:a9fe:a9fe\] is link-local \(cloud metadata\) via IPv4-mapped 169\.254\.169\.254/);
    }
  });

  test("allowPrivate lets that grant reach a private address, and only that grant", async () => {
    const dns = fakeDns({ "db.internal.example": ["10.0.0.5"] });
    const d = await decideEgress("t", [grant("db.internal.example", true)], https("db.internal.example"), dns);
    assert.deepEqual(d.ok && d.addresses, ["10.0.0.5"]);
  });

  test("localhost (resolved by the system) is refused without allowPrivate", async () => {
    const d = await authorizeEgress("fetch_weather", [grant("localhost")], https("localhost"));
    assert.equal(d.ok, false);
    if (!d.ok) assert.match(d.error.message, /^network: localhost resolved to (127\.0\.0\.1|::1) \(loopback\), which is refused/);
  });

  test("a DNS failure is a tool failure, not a silent allow", async () => {
    const failing: Resolver = async () => Promise.reject(Object.assign(new Error("nope"), { code: "ENOTFOUND" }));
    const d = await decideEgress("t", [grant("gone.example.com")], https("gone.example.com"), failing);
    assert.deepEqual(d, { ok: false, error: { code: "E_TOOL_FAILED", message: "network: could not resolve gone.example.com (ENOTFOUND)" } });
  });
});
