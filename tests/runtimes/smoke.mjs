// A workload's path through fedcred, end to end, on whichever runtime runs this file: Node,
// `bun tests/runtimes/smoke.mjs` or `deno run -A tests/runtimes/smoke.mjs` (.ci/run runs the
// last two). It uses the built packages (`pnpm build` first), as an application would, and the
// emulator's Entra ID and OIDC issuer on loopback: a token file read by @fedcred/file, a token
// from Entra through @fedcred/core, a cache hit, and Entra's refusal as an AuthenticationError.
// One line per check, then the totals as `pnpm test` prints them; exit code 0 when all passed.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuthenticationError,
  ClientAssertionCredential,
  decodeJwtPayload,
} from "../../packages/core/dist/index.mjs";
import { startEntra, startIssuer } from "../../packages/emulator/dist/index.mjs";
import { fromFile } from "../../packages/file/dist/index.mjs";

const TENANT = "3c1d2b4a-0000-4000-8000-0000000005e0";
const APP = "8a7b6c5d-0000-4000-8000-0000000005a0";
const SUBJECT = "repo:acme/app:ref:refs/heads/main";
const EXCHANGE = "api://AzureADTokenExchange";
const SCOPE = "https://storage.azure.com/.default";

const runtime =
  typeof Bun !== "undefined"
    ? `bun ${Bun.version}`
    : typeof Deno !== "undefined"
      ? `deno ${Deno.version.deno}`
      : `node ${process.versions.node}`;

// A hung server must fail CI, not stall it.
const deadline = setTimeout(() => {
  console.error(`not ok - ${runtime}: no answer within 60 s`);
  process.exit(1);
}, 60_000);

const totals = { passed: 0, failed: 0 };
function check(name, passed, detail = "") {
  totals[passed ? "passed" : "failed"] += 1;
  console.log(`${passed ? "ok" : "not ok"} - ${runtime}: ${name}${passed ? "" : `: ${detail}`}`);
}

const directory = await mkdtemp(join(tmpdir(), "fedcred-smoke-"));
const issuer = await startIssuer();
const entra = await startEntra({
  tenants: [
    {
      tenantId: TENANT,
      apps: [
        {
          clientId: APP,
          federatedCredentials: [
            { issuer: issuer.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
          ],
        },
      ],
    },
  ],
});
const credentials = [];
try {
  const tokenFile = join(directory, "token");
  const assertion = await issuer.mint({ subject: SUBJECT, audience: EXCHANGE });
  await writeFile(tokenFile, assertion);
  const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: tokenFile }), {
    authorityHost: entra.url,
  });
  credentials.push(credential);

  const first = await credential.getToken(SCOPE);
  const claims = decodeJwtPayload(first.token);
  check(
    "a token from Entra for the token file's assertion (core, file, emulator)",
    claims.appid === APP && claims.tid === TENANT && entra.tokenRequestCount === 1,
    `appid ${claims.appid}, tid ${claims.tid}, ${entra.tokenRequestCount} token requests`,
  );

  const second = await credential.getToken(SCOPE);
  check(
    "the second getToken is a cache hit",
    second.token === first.token && entra.tokenRequestCount === 1,
    `${entra.tokenRequestCount} token requests`,
  );

  const strangerFile = join(directory, "stranger");
  const stranger = await issuer.mint({
    subject: "repo:acme/other:ref:refs/heads/main",
    audience: EXCHANGE,
  });
  await writeFile(strangerFile, stranger);
  const refused = new ClientAssertionCredential(TENANT, APP, fromFile({ path: strangerFile }), {
    authorityHost: entra.url,
  });
  credentials.push(refused);
  const error = await refused.getToken(SCOPE).then(
    () => undefined,
    (caught) => caught,
  );
  const codes = error?.errorResponse?.errorCodes ?? [];
  check(
    "a subject no federated credential matches is an AuthenticationError with AADSTS700213",
    AuthenticationError.isInstance(error) &&
      codes.includes(700213) &&
      !String(error.message).includes(stranger),
    `${error?.name}: ${error?.message} (codes ${JSON.stringify(codes)})`,
  );
} catch (error) {
  check("no unexpected error", false, error?.stack ?? String(error));
} finally {
  await Promise.all(credentials.map((credential) => credential.close()));
  await Promise.all([entra.close(), issuer.close()]);
  await rm(directory, { recursive: true, force: true });
  clearTimeout(deadline);
}
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exitCode = totals.failed === 0 ? 0 : 1;
