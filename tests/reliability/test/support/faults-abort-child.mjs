// Run by abort.test.ts in a child process: aborts a getToken at each stage against the parent's
// emulators, prints one JSON line per stage, closes nothing and never calls process.exit. The
// parent asserts that this process ends by itself: nothing aborted may keep it alive.
import { request } from "node:http";
import { ClientAssertionCredential } from "@fedcred/core";
import { fromServiceAccountToken } from "@fedcred/kubernetes";
import { KubeConfig } from "@kubernetes/client-node";

const authorityHost = process.env.FEDCRED_AUTHORITY_HOST;
const tenantId = process.env.FEDCRED_TENANT_ID;
const clientId = "1a2b3c4d-0000-4000-8000-00000000fa17";
const scope = "https://storage.azure.com/.default";
// Entra's faults answer before it looks at the assertion: any JWT-shaped string will do.
const assertion = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaGlsZCJ9.c2lnbmF0dXJl";
const options = {
  authorityHost,
  retryOptions: { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 600_000 },
  requestTimeoutInMs: 600_000,
};

/** Entra's request log, over a connection that is closed after the answer. */
function requestLog() {
  return new Promise((resolve, reject) => {
    const get = request(
      `${authorityHost}/_emulator/requests`,
      { agent: false, headers: { connection: "close" } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () => resolve(JSON.parse(text)));
      },
    );
    get.on("error", reject);
    get.end();
  });
}

async function until(condition) {
  for (;;) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function stage(name, getAssertion, abortWhen) {
  const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, options);
  const controller = new AbortController();
  const pending = credential.getToken(scope, { abortSignal: controller.signal });
  await abortWhen();
  controller.abort();
  try {
    await pending;
    console.log(JSON.stringify({ stage: name, resolved: true }));
  } catch (error) {
    console.log(JSON.stringify({ stage: name, name: error?.name, message: error?.message }));
  }
}

{
  const credential = new ClientAssertionCredential(tenantId, clientId, () => assertion, options);
  try {
    await credential.getToken(scope, { abortSignal: AbortSignal.abort() });
    console.log(JSON.stringify({ stage: "before", resolved: true }));
  } catch (error) {
    console.log(JSON.stringify({ stage: "before", name: error?.name, message: error?.message }));
  }
}

let entered;
const inCallback = new Promise((resolve) => {
  entered = resolve;
});
await stage(
  "assertion",
  () => {
    entered();
    return new Promise(() => {});
  },
  () => inCallback,
);

const kubeConfig = new KubeConfig();
kubeConfig.loadFromString(process.env.FEDCRED_KUBECONFIG);
await stage(
  "kubernetes",
  fromServiceAccountToken({ serviceAccount: "billing", kubeConfig, requestTimeoutInMs: 600_000 }),
  () => new Promise((resolve) => setTimeout(resolve, 300)),
);

await stage(
  "request",
  () => assertion,
  () => until(async () => (await requestLog()).tokenRequestCount >= 1),
);

await stage(
  "retry-wait",
  () => assertion,
  () =>
    until(async () => {
      const log = await requestLog();
      if (log.requests[1]?.status !== 503) return false;
      // The answer is on its way: let the credential read it and start its 600 s wait.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return true;
    }),
);
