import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WardenError } from "../../../src/errors.js";
import { parseNetworkPattern } from "../../../src/capabilities/network/index.js";

function refused(text: string, mentions: RegExp): void {
  assert.throws(
    () => parseNetworkPattern(text),
    (err: unknown) => {
      assert.ok(err instanceof WardenError);
      assert.equal(err.code, "E_MANIFEST");
      assert.ok(err.message.includes(JSON.stringify(text)), `message names the pattern: ${err.message}`);
      assert.match(err.message, mentions);
      return true;
    },
  );
}

describe("network patterns: what is accepted", () => {
  test("a bare host means https on port 443", () => {
    assert.deepEqual(parseNetworkPattern("api.example.com"), {
      scheme: "https", host: "api.example.com", wildcard: false, ip: null, port: 443, text: "api.example.com",
    });
  });

  test("http:// defaults to port 80, and an explicit port is kept", () => {
    assert.equal(parseNetworkPattern("http://legacy.example.com").port, 80);
    const p = parseNetworkPattern("http://legacy.example.com:8080");
    assert.equal(p.scheme, "http");
    assert.equal(p.port, 8080);
    assert.equal(parseNetworkPattern("files.example.net:8443").port, 8443);
  });

  test("host names are lower-cased and one trailing dot is dropped", () => {
    assert.equal(parseNetworkPattern("HTTPS://Api.Example.COM.").host, "api.example.com");
  });

  test("*.suffix is a wildcard whose host is the suffix", () => {
    const p = parseNetworkPattern("*.example.org");
    assert.equal(p.wildcard, true);
    assert.equal(p.host, "example.org");
  });

  test("IP literals: dotted IPv4 and bracketed IPv6, canonicalised like WHATWG URL", () => {
    assert.equal(parseNetworkPattern("192.0.2.10").ip, "192.0.2.10");
    const v6 = parseNetworkPattern("[2001:DB8:0:0::1]:8443");
    assert.equal(v6.ip, "2001:db8::1");
    assert.equal(v6.port, 8443);
    assert.equal(parseNetworkPattern("[::ffff:169.254.169.254]").ip, "::ffff:a9fe:a9fe");
  });

  test("single-label names such as localhost are names (the address policy judges them)", () => {
    assert.equal(parseNetworkPattern("localhost").host, "localhost");
  });
});

describe("network patterns: what is refused", () => {
  test("schemes other than https and http", () => {
    refused("ftp://files.example.com", /scheme "ftp" is not allowed/);
    refused("ws://x.example.com", /scheme/);
    refused("https:/api.example.com", /malformed scheme/);
  });
  test("* alone and a wildcard over a whole top-level domain", () => {
    refused("*", /every host/);
    refused("*.com", /top-level domain/);
    refused("https://*:443", /every host/);
  });
  test("a wildcard anywhere but as the whole leftmost label", () => {
    refused("api.*.example.com", /leftmost label/);
    refused("*api.example.com", /leftmost label/);
    refused("*.*.example.com", /leftmost label/);
  });
  test("paths, CIDR ranges, queries and userinfo", () => {
    refused("api.example.com/v1", /paths and CIDR/);
    refused("10.0.0.0/8", /paths and CIDR/);
    refused("api.example.com?x=1", /queries/);
    refused("user@api.example.com", /userinfo/);
    refused("user:pw@api.example.com", /userinfo/);
  });
  test("ports that are not 1-65535 written plainly", () => {
    refused("api.example.com:0", /port/);
    refused("api.example.com:65536", /port/);
    refused("api.example.com:08443", /port/);
    refused("api.example.com:", /port/);
    refused("api.example.com:https", /port/);
  });
  test("IPv6 without brackets, zone ids, and bad literals", () => {
    refused("2001:db8::1", /brackets/);
    refused("[fe80::1%eth0]", /not allowed|percent/);
    refused("[2001:db8::zz]", /not an IPv6 address/);
    refused("[2001:db8::1", /unclosed/);
  });
  test("ambiguous IPv4 spellings, with the canonical form as the fix", () => {
    refused("2852039166", /ambiguous IPv4.*169\.254\.169\.254/);
    refused("0xA9FEA9FE", /ambiguous IPv4.*169\.254\.169\.254/);
    refused("0251.0376.0251.0376", /ambiguous IPv4.*169\.254\.169\.254/);
    refused("127.1", /ambiguous IPv4.*127\.0\.0\.1/);
    refused("evil.0x7f", /ambiguous IPv4|number/);
  });
  test("malformed names, whitespace and non-ASCII", () => {
    refused("", /empty/);
    refused("-bad.example.com", /not a valid DNS name/);
    refused("a..example.com", /not a valid DNS name/);
    refused("api.example.com ", /whitespace/);
    refused("bücher.example", /ASCII.*xn--bcher-kva\.example/);
    refused("xn--zz.example", /not a valid host name/);
  });
});
