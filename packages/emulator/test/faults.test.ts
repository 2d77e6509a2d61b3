import { request as httpsRequest } from "node:https";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Federation, startFederation } from "./support/federation.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

let federation: Federation;

beforeAll(async () => {
  federation = await startFederation();
});

afterAll(async () => {
  await federation?.close();
});

beforeEach(() => federation.entra.reset());

async function form(): Promise<Record<string, string>> {
  return {
    grant_type: "client_credentials",
    client_id: federation.clientId,
    scope: "https://storage.azure.com/.default",
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: await federation.assertion(),
  };
}

function rawTokenRequest(): Promise<Response> {
  return form().then((body) =>
    fetch(federation.entra.tokenEndpoint(federation.tenantId), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body).toString(),
    }),
  );
}

describe("Entra faults", () => {
  it("answers a status with Retry-After in seconds for the next N requests, then recovers", async () => {
    const { entra, tenantId } = federation;
    entra.injectFault({ kind: "status", status: 429, retryAfter: 7 }, { count: 2 });
    for (let attempt = 0; attempt < 2; attempt++) {
      const { status, body, headers } = await postToken(
        entra.tokenEndpoint(tenantId),
        await form(),
      );
      expect(status).toBe(429);
      expect(headers.get("retry-after")).toBe("7");
      expect(body.error).toBe("temporarily_unavailable");
    }
    expect((await postToken(entra.tokenEndpoint(tenantId), await form())).status).toBe(200);
    expect(entra.tokenRequestCount).toBe(3);
    expect(entra.requests.map((request) => request.status)).toEqual([429, 429, 200]);
  });

  it("sends Retry-After as an HTTP date, and a 503 without one", async () => {
    const { entra, tenantId } = federation;
    const when = new Date(Date.now() + 30_000);
    entra.faults.push({ kind: "status", status: 503, retryAfter: when });
    entra.faults.push({ kind: "status" });
    const dated = await postToken(entra.tokenEndpoint(tenantId), await form());
    expect(dated.status).toBe(503);
    expect(dated.headers.get("retry-after")).toBe(when.toUTCString());
    const plain = await postToken(entra.tokenEndpoint(tenantId), await form());
    expect(plain.status).toBe(503);
    expect(plain.headers.get("retry-after")).toBeNull();
  });

  it("delays an answer", async () => {
    federation.entra.injectFault({ kind: "delay", delayMs: 300 });
    const started = performance.now();
    const response = await rawTokenRequest();
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("drops the connection", async () => {
    federation.entra.injectFault({ kind: "drop" });
    await expect(rawTokenRequest()).rejects.toThrow(/fetch failed/);
    expect(federation.entra.tokenRequestCount).toBe(1);
  });

  it("answers truncated JSON, malformed JSON and an HTML page", async () => {
    const { entra } = federation;
    entra.injectFault({ kind: "truncated-json" });
    entra.injectFault({ kind: "malformed-json" });
    entra.injectFault({ kind: "html", status: 502 });
    const truncated = await rawTokenRequest();
    expect(truncated.status).toBe(200);
    const truncatedText = await truncated.text();
    expect(truncatedText.startsWith('{"token_type":"Bearer"')).toBe(true);
    expect(() => JSON.parse(truncatedText)).toThrow();
    const malformed = await rawTokenRequest();
    await expect(malformed.json()).rejects.toThrow();
    const html = await rawTokenRequest();
    expect(html.status).toBe(502);
    expect(html.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
  });

  it("takes faults, lists requests and resets through the admin endpoint", async () => {
    const { entra, tenantId } = federation;
    const queued = await fetch(`${entra.url}/_emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        kind: "status",
        status: 500,
        retryAfter: "Wed, 21 Oct 2037 07:28:00 GMT",
        count: 1,
      }),
    });
    expect(queued.status).toBe(200);
    const failed = await postToken(entra.tokenEndpoint(tenantId), await form());
    expect(failed.status).toBe(500);
    expect(failed.headers.get("retry-after")).toBe("Wed, 21 Oct 2037 07:28:00 GMT");
    const log = (await (await fetch(`${entra.url}/_emulator/requests`)).json()) as {
      tokenRequestCount: number;
      requests: { status: number; form: Record<string, string> }[];
    };
    expect(log.tokenRequestCount).toBe(1);
    expect(log.requests[0]?.status).toBe(500);
    expect(log.requests[0]?.form.client_id).toBe(federation.clientId);
    const bad = await fetch(`${entra.url}/_emulator/faults`, { method: "POST", body: "{" });
    expect(bad.status).toBe(400);
    entra.injectFault({ kind: "drop" });
    expect((await fetch(`${entra.url}/_emulator/reset`, { method: "POST" })).status).toBe(200);
    expect(entra.tokenRequestCount).toBe(0);
    expect(entra.faults.queued).toHaveLength(0);
    expect((await postToken(entra.tokenEndpoint(tenantId), await form())).status).toBe(200);
  });
});

/** A raw token request over node:https: the bytes as sent (no decoding), and how the body ended. */
function rawBytes(): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  complete: boolean;
}> {
  return form().then(
    (fields) =>
      new Promise((resolve, reject) => {
        const request = httpsRequest(
          federation.entra.tokenEndpoint(federation.tenantId),
          { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } },
          (response) => {
            const chunks: Buffer[] = [];
            const finish = (): void =>
              resolve({
                status: response.statusCode ?? 0,
                headers: response.headers,
                body: Buffer.concat(chunks),
                complete: response.complete,
              });
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", finish);
            response.on("error", finish);
            response.on("aborted", () => {});
          },
        );
        request.on("error", reject);
        request.end(new URLSearchParams(fields).toString());
      }),
  );
}

describe("Entra faults a hostile or broken endpoint plays", () => {
  it("sends half a body under a Content-Length of the whole, then drops the connection", async () => {
    federation.entra.injectFault({ kind: "truncated-body" });
    const { status, headers, body, complete } = await rawBytes();
    expect(status).toBe(200);
    expect(Number(headers["content-length"])).toBeGreaterThan(body.length);
    expect(body.length).toBeGreaterThan(0);
    expect(complete).toBe(false);
    expect(federation.entra.tokenRequestCount).toBe(1);
  });

  it("answers a token response without access_token, or with expires_in missing or nonsense", async () => {
    const { entra } = federation;
    entra.injectFault({ kind: "token-response", omit: ["access_token"] });
    entra.injectFault({ kind: "token-response", omit: ["expires_in"] });
    entra.injectFault({ kind: "token-response", fields: { expires_in: "soon" } });
    const noToken = (await (await rawTokenRequest()).json()) as Record<string, unknown>;
    expect(noToken).not.toHaveProperty("access_token");
    expect(noToken.token_type).toBe("Bearer");
    expect(await (await rawTokenRequest()).json()).not.toHaveProperty("expires_in");
    expect(((await (await rawTokenRequest()).json()) as { expires_in: unknown }).expires_in).toBe(
      "soon",
    );
  });

  it("redirects with every 3xx status to the Location given, and with none", async () => {
    const { entra } = federation;
    for (const status of [301, 302, 303, 307, 308]) {
      entra.injectFault({ kind: "redirect", status, location: "https://127.0.0.1:9/elsewhere" });
      const response = await form().then((body) =>
        fetch(entra.tokenEndpoint(federation.tenantId), {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(body).toString(),
        }),
      );
      expect(response.status).toBe(status);
      expect(response.headers.get("location")).toBe("https://127.0.0.1:9/elsewhere");
    }
    entra.injectFault({ kind: "redirect" });
    const bare = await rawBytes();
    expect(bare.status).toBe(302);
    expect(bare.headers.location).toBeUndefined();
    expect(entra.requests.map((request) => request.status)).toEqual([301, 302, 303, 307, 308, 302]);
  });

  it("sends an oversized body of the bytes asked for", async () => {
    federation.entra.injectFault({ kind: "oversized", bytes: 3 * 1024 * 1024 });
    const { status, body, complete } = await rawBytes();
    expect(status).toBe(200);
    expect(complete).toBe(true);
    expect(body.length).toBe(3 * 1024 * 1024);
    expect(body.subarray(0, 14).toString()).toBe('{"token_type":');
  });

  it("sends compressed bombs: a small gzip, deflate or br body that decodes to the bytes asked for", async () => {
    const decoders = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync };
    for (const encoding of ["gzip", "deflate", "br"] as const) {
      federation.entra.injectFault({ kind: "compressed-bomb", encoding, bytes: 4 * 1024 * 1024 });
      const { status, headers, body } = await rawBytes();
      expect(status).toBe(200);
      expect(headers["content-encoding"]).toBe(encoding);
      expect(body.length).toBeLessThan(64 * 1024);
      const decoded = decoders[encoding](body);
      expect(decoded.length).toBe(4 * 1024 * 1024);
      expect(decoded.subarray(0, 17).toString()).toBe('{"access_token":"');
    }
  });

  it("answers 500 for a fault it cannot play, and recovers", async () => {
    federation.entra.injectFault({ kind: "oversized", bytes: -1 });
    expect((await rawBytes()).status).toBe(500);
    expect((await rawTokenRequest()).status).toBe(200);
  });
});
