import { describe, expect, it } from "vitest";
import { decodeJwtPayload } from "../src/index.js";
import { fakeJwt } from "./token-server.js";

describe("decodeJwtPayload", () => {
  it("decodes the payload of a compact JWT without verifying it", () => {
    expect(decodeJwtPayload(fakeJwt({ iss: "https://issuer", sub: "s", exp: 1 }))).toEqual({
      iss: "https://issuer",
      sub: "s",
      exp: 1,
    });
  });

  it("throws a TypeError that never quotes the value", () => {
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
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).not.toContain(secret);
    }
  });
});
