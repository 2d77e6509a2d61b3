// The emulator's own process: Entra ID (two instances on one CA), an OIDC issuer and a control
// server, all on 127.0.0.1. Started by the bench with an IPC channel: it sends the Lab once every
// server listens, and ends when the bench disconnects. Its RSA signing never shares the event
// loop of the clients being measured.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTlsAuthority, type EntraEmulator, startEntra, startIssuer } from "@fedcred/emulator";
import type { EntraCounts, EntraName, Lab } from "./lab.js";

const MANY_KEY_TENANTS = Number(process.env.FEDCRED_BENCH_TENANTS ?? "100");
const SHORT_LIFETIME_SECONDS = 6;
const SUBJECT = "system:serviceaccount:bench:workload";
const AUDIENCE = "api://AzureADTokenExchange";

const directory = await mkdtemp(join(tmpdir(), "fedcred-bench-"));
const tls = await createTlsAuthority();
const caFile = join(directory, "ca.pem");
await writeFile(caFile, tls.caCertificate);
const issuer = await startIssuer();
const clientId = randomUUID();
const tenantId = randomUUID();
const manyKeyTenants = Array.from({ length: MANY_KEY_TENANTS }, () => randomUUID());
const app = {
  clientId,
  federatedCredentials: [{ issuer: issuer.url, subject: SUBJECT, audiences: [AUDIENCE] }],
};
const tenants = [tenantId, ...manyKeyTenants].map((id) => ({ tenantId: id, apps: [app] }));
const server = { cert: tls.serverCertificate, key: tls.serverKey };
const entras: Record<EntraName, EntraEmulator> = {
  main: await startEntra({ tls: server, tenants }),
  short: await startEntra({
    tls: server,
    tenants: [{ tenantId, apps: [app] }],
    accessTokenLifetimeSeconds: SHORT_LIFETIME_SECONDS,
  }),
};
// Requests already dropped from each log (kept short: a run makes tens of thousands).
const trimmed: Record<EntraName, number> = { main: 0, short: 0 };
const trim = setInterval(() => {
  for (const name of ["main", "short"] as const) {
    trimmed[name] += entras[name].requests.length;
    entras[name].requests.length = 0;
  }
}, 1000);

const assertion = await issuer.mint({
  subject: SUBJECT,
  audience: AUDIENCE,
  lifetimeSeconds: 7200,
});
const tokenFile = join(directory, "azure-identity-token");
await writeFile(tokenFile, assertion);

function counts(name: EntraName): EntraCounts {
  const entra = entras[name];
  return {
    tokenRequests: entra.tokenRequestCount,
    requests: trimmed[name] + entra.requests.length,
  };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function entraNamed(value: unknown): EntraEmulator {
  if (value !== "main" && value !== "short") throw new Error(`no Entra named ${String(value)}`);
  return entras[value];
}

const control = createServer((request, response) => {
  const answer = (status: number, body: unknown): void => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };
  readJson(request)
    .then((body) => {
      switch (request.url) {
        case "/counts":
          return answer(200, { main: counts("main"), short: counts("short") });
        case "/delay":
          entraNamed(body.entra).injectFault(
            { kind: "delay", delayMs: Number(body.delayMs) },
            { count: 1_000_000 },
          );
          return answer(200, {});
        case "/clear-faults":
          entraNamed(body.entra).faults.clear();
          return answer(200, {});
        default:
          return answer(404, { error: "not_found" });
      }
    })
    .catch((error: unknown) => answer(400, { error: String(error) }));
});
await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
const address = control.address();
if (address === null || typeof address === "string") throw new Error("control server address");

const lab: Lab = {
  authorityHost: entras.main.authorityHost,
  shortLivedAuthorityHost: entras.short.authorityHost,
  shortLifetimeSeconds: SHORT_LIFETIME_SECONDS,
  controlUrl: `http://127.0.0.1:${address.port}`,
  tenantId,
  clientId,
  manyKeyTenants,
  scope: "https://storage.azure.com/.default",
  assertion,
  tokenFile,
  caFile,
};

async function shutDown(): Promise<void> {
  clearInterval(trim);
  control.closeAllConnections();
  await Promise.allSettled([
    new Promise((resolve) => control.close(resolve)),
    entras.main.close(),
    entras.short.close(),
    issuer.close(),
  ]);
  await rm(directory, { recursive: true, force: true });
  process.exit(0);
}

// The bench going away (its end, a crash, Ctrl-C) closes the channel: nothing outlives it.
process.on("disconnect", () => void shutDown());
process.on("SIGTERM", () => void shutDown());
process.send?.({ ready: lab });
