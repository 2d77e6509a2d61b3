import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { startIssuer } from "../src/issuer.js";
import { testTls } from "./support/tls.js";

describe("startIssuer", () => {
  it("mints tokens that verify against its discovery document's JWKS", async () => {
    const issuer = await startIssuer();
    try {
      expect(issuer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const metadata = (await (
        await fetch(`${issuer.url}/.well-known/openid-configuration`)
      ).json()) as {
        issuer: string;
        jwks_uri: string;
      };
      expect(metadata).toMatchObject({ issuer: issuer.url, jwks_uri: `${issuer.url}/jwks` });
      const token = await issuer.mint({
        subject: "ci:pipeline:42",
        audience: "api://AzureADTokenExchange",
        lifetimeSeconds: 120,
        claims: { repository: "acme/app" },
      });
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri)), {
        issuer: issuer.url,
        audience: "api://AzureADTokenExchange",
      });
      expect(payload).toMatchObject({ sub: "ci:pipeline:42", repository: "acme/app" });
      expect((payload.exp as number) - (payload.iat as number)).toBe(120);
      expect(typeof payload.jti).toBe("string");
    } finally {
      await issuer.close();
    }
  });

  it("rotates keys, keeping or dropping the old ones, and serves HTTPS with tls", async () => {
    const tls = testTls();
    const issuer = await startIssuer({ tls: { cert: tls.cert, key: tls.key } });
    try {
      expect(issuer.url).toMatch(/^https:\/\/localhost:\d+$/);
      const first = decodeProtectedHeader(await issuer.mint({ subject: "a", audience: "b" })).kid;
      await issuer.rotateKeys();
      const second = decodeProtectedHeader(await issuer.mint({ subject: "a", audience: "b" })).kid;
      expect(second).not.toBe(first);
      const published = (await (await fetch(`${issuer.url}/jwks`)).json()) as {
        keys: { kid: string }[];
      };
      expect(published.keys.map((key) => key.kid)).toEqual([first, second]);
      await issuer.rotateKeys({ dropOld: true });
      expect(issuer.jwks().keys).toHaveLength(1);
      expect(issuer.fetchCounts.jwks).toBe(1);
    } finally {
      await issuer.close();
    }
  });
});
