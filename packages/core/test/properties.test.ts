import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeAuthorityHost } from "../src/authority.js";
import {
  AuthenticationError,
  CredentialUnavailableError,
  decodeJwtPayload,
  FedcredError,
} from "../src/index.js";
import { parseRetryAfter } from "../src/retry.js";
import { parseTokenResponse, tokenErrorFromResponse } from "../src/token-response.js";

const secret = fc.stringMatching(/^[A-Za-z0-9_-]{24,40}$/);

describe("properties", () => {
  it("any 2xx body yields a token response or an AuthenticationError that never quotes the token", () => {
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record(
          {
            access_token: secret,
            expires_in: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
            token_type: fc.oneof(fc.constant("Bearer"), fc.constant("bearer"), fc.string()),
            refresh_in: fc.oneof(fc.integer(), fc.string()),
          },
          { requiredKeys: [] },
        )
        .map((object) => JSON.stringify(object)),
    );
    fc.assert(
      fc.property(body, (text) => {
        try {
          const response = parseTokenResponse(200, text);
          expect(response.accessToken.length).toBeGreaterThan(0);
          expect(Number.isFinite(response.expiresInMs)).toBe(true);
          expect(response.expiresInMs).toBeGreaterThan(0);
          expect(response.expiresInMs).toBeLessThanOrEqual(7 * 24 * 3600_000);
          expect(response.accessToken).toMatch(/^[\x21-\x7e]+$/);
        } catch (error) {
          expect(error).toBeInstanceOf(AuthenticationError);
          const token = /"access_token":"([^"]+)"/.exec(text)?.[1];
          if (token) expect((error as Error).message).not.toContain(token);
        }
      }),
    );
  });

  it("any error body yields an AuthenticationError with the status", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 599 }),
        fc.oneof(fc.string(), fc.json()),
        (status, text) => {
          const error = tokenErrorFromResponse({
            status,
            body: text,
            url: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            claims: undefined,
            scrub: (t) => t,
          });
          expect(error).toBeInstanceOf(AuthenticationError);
          expect(error.statusCode).toBe(status);
        },
      ),
    );
  });

  it("any authority host is normalised to an https (or loopback http) URL without a trailing slash, or refused clearly", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.domain()), (value) => {
        try {
          const host = normalizeAuthorityHost(value, "options.authorityHost", "tenant");
          expect(host).toMatch(/^(https:\/\/|http:\/\/(localhost|127\.|\[::1\]))/);
          expect(host.endsWith("/")).toBe(false);
        } catch (error) {
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect((error as Error).message).toMatch(/options\.authorityHost/);
        }
      }),
    );
  });

  it("Retry-After is never negative and reads both forms", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.nat().map(String),
          fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
        ),
        (value) => {
          const wait = parseRetryAfter(value, Date.now());
          if (wait !== undefined) expect(wait).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it("decoding any string either yields an object or a FedcredError that never quotes the input", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          secret.map((s) => `${s}.${s}.${s}`),
        ),
        (value) => {
          try {
            expect(typeof decodeJwtPayload(value)).toBe("object");
          } catch (error) {
            expect(FedcredError.isInstance(error)).toBe(true);
            expect((error as FedcredError).code).toBe("invalid_jwt");
            if (value.length > 8) expect((error as Error).message).not.toContain(value);
          }
        },
      ),
    );
  });
});
