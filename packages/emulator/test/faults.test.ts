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
