import { describe, expect, it } from "vitest";
import { verifySigV4 } from "../src/sigv4.js";

// Vectors of the AWS SigV4 test suite (get-vanilla, get-vanilla-query-order-key).
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SIGNED_AT = Date.UTC(2015, 7, 30, 12, 36, 0);

function request(target: string, signature: string) {
  return {
    method: "GET",
    target,
    body: "",
    rawHeaders: [
      "Host",
      "example.amazonaws.com",
      "X-Amz-Date",
      "20150830T123600Z",
      "Authorization",
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    ],
  };
}

const options = {
  region: "us-east-1",
  service: "service",
  now: SIGNED_AT,
  lookup: (accessKeyId: string) =>
    accessKeyId === "AKIDEXAMPLE" ? { secretAccessKey: SECRET } : undefined,
};

describe("verifySigV4", () => {
  it("accepts the AWS test suite's signed requests", () => {
    expect(
      verifySigV4(
        request("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        options,
      ),
    ).toMatchObject({ ok: true, accessKeyId: "AKIDEXAMPLE" });
    expect(
      verifySigV4(
        request(
          "/?Param2=value2&Param1=value1",
          "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        options,
      ),
    ).toMatchObject({ ok: true });
  });

  it("refuses a changed request, a changed signature, a wrong region, an old date", () => {
    const signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    expect(verifySigV4(request("/other", signature), options)).toMatchObject({
      ok: false,
      code: "SignatureDoesNotMatch",
      status: 403,
    });
    expect(verifySigV4(request("/", signature.replace(/^5/, "6")), options)).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
    expect(verifySigV4(request("/", signature), { ...options, region: "eu-west-1" })).toMatchObject(
      {
        code: "SignatureDoesNotMatch",
        message: "Credential should be scoped to a valid region. ",
      },
    );
    expect(
      verifySigV4(request("/", signature), { ...options, now: SIGNED_AT + 16 * 60_000 }),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
      message:
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)",
    });
    expect(
      verifySigV4(request("/", signature), { ...options, lookup: () => undefined }),
    ).toMatchObject({
      code: "InvalidClientTokenId",
    });
    expect(
      verifySigV4({ method: "GET", target: "/", body: "", rawHeaders: [] }, options),
    ).toMatchObject({
      code: "MissingAuthenticationToken",
      status: 403,
    });
  });
});
