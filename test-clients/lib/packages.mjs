// Paths and versions of the two third-party clients, read from their installed package.json
// (pinned exactly in test-clients/package.json + package-lock.json).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENTS_DIR } from "./warden.mjs";

function pkg(name, binName) {
  const dir = join(CLIENTS_DIR, "node_modules", ...name.split("/"));
  const json = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const bin = typeof json.bin === "string" ? json.bin : json.bin[binName];
  return { name, version: json.version, bin: join(dir, bin) };
}

export const inspectorPackage = () => pkg("@modelcontextprotocol/inspector", "inspector");
export const conformancePackage = () => pkg("@modelcontextprotocol/conformance", "conformance");
