import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { createTlsAuthority } from "../src/tls.js";

declare module "vitest" {
  export interface ProvidedContext {
    testTls: {
      caCertificate: string;
      serverCertificate: string;
      serverKey: string;
      caFile: string;
    };
  }
}

/**
 * One CA for the whole run. `@azure/identity` and `@azure/storage-blob` trust only the system CAs
 * plus NODE_EXTRA_CA_CERTS, which Node reads when a process starts: setting it here, before
 * vitest forks its workers, is what makes them trust the emulators' certificates.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const authority = await createTlsAuthority("fedcred emulator test CA");
  const directory = mkdtempSync(join(tmpdir(), "fedcred-emulator-test-"));
  const caFile = join(directory, "ca.pem");
  writeFileSync(caFile, authority.caCertificate);
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  project.provide("testTls", { ...authority, caFile });
  return () => rmSync(directory, { recursive: true, force: true });
}
