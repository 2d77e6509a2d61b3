import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TlsAuthority } from "@fedcred/emulator";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    tls: TlsAuthority;
  }
}

// Node reads NODE_EXTRA_CA_CERTS only at process start: set it before vitest forks its workers,
// so the Azure SDK's HTTPS client trusts azurite's certificate.
export default async function setup(project: TestProject): Promise<() => void> {
  // Imported here, not above: vitest loads every global setup file before it runs the first one,
  // build-first.ts, which builds the emulator.
  const { createTlsAuthority } = await import("@fedcred/emulator");
  const tls = await createTlsAuthority("fedcred e2e CA");
  const directory = mkdtempSync(join(tmpdir(), "fedcred-e2e-ca-"));
  writeFileSync(join(directory, "ca.pem"), tls.caCertificate);
  process.env.NODE_EXTRA_CA_CERTS = join(directory, "ca.pem");
  project.provide("tls", tls);
  return () => rmSync(directory, { recursive: true, force: true });
}
