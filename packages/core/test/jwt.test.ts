import { describe, expect, it } from "vitest";
import { decodeJwtPayload, FedcredError } from "../src/index.js";
import { fakeJwt } from "./token-server.js";

describe("decodeJwtPayload", () => {
  it("decodes the payload of a compact JWT without verifying it", () => {
    expect(decodeJwtPayload(fakeJwt({ iss: "https://issuer", sub: "s", exp: 1 }))).toEqual({
      iss: "https://issuer",
      sub: "s",
      exp: 1,
    });
  });

  it("throws a FedcredError (code invalid_jwt) that never quotes the value", () => {
    const secret = "very-secret-opaque-token";
    for (const value of [
      secret,
      `${secret}.x`,
      "a.b.c",
      `e30.${Buffer.from("[1]").toString("base64url")}.s`,
    ]) {
      let error: unknown;
      try {
        decodeJwtPayload(value);
      } catch (e) {
        error = e;
      }
      expect(FedcredError.isInstance(error)).toBe(true);
      expect((error as FedcredError).code).toBe("invalid_jwt");
      expect(String(error)).not.toContain(secret);
    }
  });
});

describe("hints for federated-credential mismatches", () => {
  it("names the IAM role ARN as the subject an AWS STS token needs, and nothing AWS for others", async () => {
    const { hintFor } = await import("../src/hints.js");
    const aws = hintFor([700213], {
      iss: "https://0f1e2d3c-aaaa-bbbb-cccc-111122223333.tokens.sts.global.api.aws",
      sub: "arn:aws:iam::123456789012:role/billing",
      aud: "api://AzureADTokenExchange",
    });
    expect(aws).toContain(
      "must be this IAM role ARN exactly (arn:aws:iam::123456789012:role/billing)",
    );
    const kubernetes = hintFor([700213], { sub: "system:serviceaccount:prod:billing" });
    expect(kubernetes).toContain('sub "system:serviceaccount:prod:billing"');
    expect(kubernetes).not.toContain("IAM role");
  });

  it("says why a certificate assertion's aud was refused (AADSTS700023)", async () => {
    const { hintFor } = await import("../src/hints.js");
    const hint = hintFor([700023], { aud: "https://gateway.example/t/oauth2/v2.0/token" });
    expect(hint).toContain('aud ("https://gateway.example/t/oauth2/v2.0/token")');
    expect(hint).toContain("exact token endpoint URL");
  });
});
