import { inject } from "vitest";

/** The run's CA (trusted by every worker through NODE_EXTRA_CA_CERTS) and a server key pair it issued. */
export function testTls(): { cert: string; key: string; ca: string; caFile: string } {
  const tls = inject("testTls");
  return {
    cert: tls.serverCertificate,
    key: tls.serverKey,
    ca: tls.caCertificate,
    caFile: tls.caFile,
  };
}
