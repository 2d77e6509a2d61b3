import { X509Certificate } from "node:crypto";
import { request } from "node:https";
import { describe, expect, it } from "vitest";
import { listen } from "../src/http.js";
import { createTlsAuthority } from "../src/tls.js";

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
}

describe("createTlsAuthority", () => {
  it("issues a server certificate for localhost and 127.0.0.1 that clients trusting only the CA accept", async () => {
    const authority = await createTlsAuthority();
    const server = await listen(
      (_request, response) => {
        response.end("hello");
      },
      {
        tls: { cert: authority.serverCertificate, key: authority.serverKey },
      },
    );
    try {
      expect(await get(server.url, authority.caCertificate)).toBe("hello");
      expect(await get(`https://127.0.0.1:${server.port}/`, authority.caCertificate)).toBe("hello");
      const other = await createTlsAuthority();
      await expect(get(server.url, other.caCertificate)).rejects.toThrow(/certificate/i);
    } finally {
      await server.close();
    }
  });

  it("with { loopback: false } needs a DNS name, and names only it", async () => {
    await expect(createTlsAuthority("CA", [], { loopback: false })).rejects.toThrow(/DNS name/);
    const authority = await createTlsAuthority("CA", ["proxy.fedcred.test"], { loopback: false });
    const certificate = new X509Certificate(authority.serverCertificate);
    expect(certificate.subjectAltName).toBe("DNS:proxy.fedcred.test");
    expect(certificate.subject).toBe("CN=proxy.fedcred.test");
  });
});
