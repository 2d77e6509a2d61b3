import {
  AuthenticationError,
  type ClientAssertionCredential,
  describeDetection,
} from "@fedcred/core";
import { EXCHANGE_AUDIENCE, isFicMismatch, PUBLIC_CLOUD } from "../entra-rules.js";
import { type Finding, findingsFor, lifetimeOf } from "../findings.js";
import { audiencesOf, type DecodedJwt } from "../jwt.js";
import { formatDuration, formatEpoch, formatRelative } from "../time.js";
import { coreRefusal, PLACEHOLDER_CLIENT, PLACEHOLDER_TENANT } from "./core-refusal.js";
import { checkDetection } from "./detection.js";
import { checkIdentityBinding, IDENTITY_BINDING_VARIABLES } from "./identity-binding.js";
import { checkAuthority, describeProxy } from "./network.js";
import { checkTokenFile } from "./token-file.js";

/** One step of `fedcred doctor`, as `--json` prints it. */
export interface Check {
  check: string;
  /** `false`: this breaks token requests. `true` with a `fix`: worth a look, not a failure. */
  ok: boolean;
  detail: string;
  /** What to do, or `null` when there is nothing to do. */
  fix: string | null;
}

/** What the checks run with. */
export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  scope?: string | undefined;
  /** Per network check. */
  timeoutInMs: number;
}

const WEBHOOK =
  'In AKS the workload-identity webhook sets AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST when the pod has the label azure.workload.identity/use: "true".';

function pass(check: string, detail: string, fix: string | null = null): Check {
  return { check, ok: true, detail, fix };
}

function fail(check: string, detail: string, fix: string | null): Check {
  return { check, ok: false, detail, fix };
}

function variableCheck(
  env: NodeJS.ProcessEnv,
  name: string,
  whenMissing: string,
  validate: (value: string) => string | undefined,
): Check {
  const value = env[name]?.trim();
  if (!value) return fail(name, "not set", whenMissing);
  const refusal = validate(value);
  return refusal === undefined
    ? pass(name, value)
    : fail(name, refusal, `Set ${name} to a valid value.`);
}

function findingsWith(found: Finding[], codes: string[]): Finding[] {
  return found.filter((finding) => codes.includes(finding.code));
}

/** The checks of the token's contents: freshness, audience, format, identity. */
function tokenChecks(jwt: DecodedJwt, bindingVariables: string[]): Check[] {
  const now = Date.now() / 1000;
  const found = findingsFor(jwt, "federated-assertion", now);
  const { claims } = jwt;
  const checks: Check[] = [];

  const timing = findingsWith(found, ["expired", "not_yet_valid", "no_expiry"]);
  if (timing.length > 0) {
    checks.push(
      fail(
        "token fresh",
        timing.map((finding) => finding.message).join(" "),
        "A projected token is rewritten by the kubelet at 80% of its lifetime: if it is stale, the volume is no longer updated (a restarted pod gets a new one). A token file you write yourself must be renewed before it expires.",
      ),
    );
  } else {
    const issued =
      typeof claims.iat === "number" ? `, issued ${formatRelative(claims.iat, now)}` : "";
    checks.push(
      pass(
        "token fresh",
        `expires ${formatRelative(claims.exp as number, now)} (${formatEpoch(claims.exp as number)})${issued}`,
      ),
    );
  }

  const audiences = audiencesOf(claims);
  const shown = audiences.length === 0 ? "(none)" : audiences.join(", ");
  const binding = findingsWith(found, ["identity_binding_audience"])[0];
  const audience = findingsWith(found, ["audience"])[0];
  if (binding !== undefined) {
    checks.push(
      bindingVariables.length > 0
        ? pass(
            "token audience",
            `${shown}: an AKS identity binding's token; token requests go through the token proxy (below)`,
          )
        : fail(
            "token audience",
            binding.message,
            "The identity binding's variables (AZURE_KUBERNETES_TOKEN_PROXY, ...) are missing: check the webhook's version and the binding, and turn on enableAzureProxy in the application.",
          ),
    );
  } else if (audience !== undefined) {
    checks.push(
      pass(
        "token audience",
        `${shown}: not ${EXCHANGE_AUDIENCE}`,
        `Unless the app's federated credential lists exactly this audience, Entra answers AADSTS700212: project the token with audience ${EXCHANGE_AUDIENCE}.`,
      ),
    );
  } else {
    checks.push(pass("token audience", shown));
  }

  const format = findingsWith(found, ["algorithm", "typ", "lifetime", "missing_claim"]);
  const lifetimeSeconds = lifetimeOf(claims);
  const lifetime =
    lifetimeSeconds === undefined ? "" : `, lifetime ${formatDuration(lifetimeSeconds)}`;
  checks.push(
    format.length > 0
      ? fail(
          "token format",
          format.map((finding) => finding.message).join(" "),
          "Change how the token is issued (algorithm RS256, typ JWT or none, a lifetime of an hour), or use another source.",
        )
      : pass(
          "token format",
          `${String(jwt.header.alg)}, typ ${jwt.header.typ === undefined ? "absent (accepted)" : String(jwt.header.typ)}${lifetime}`,
        ),
  );
  checks.push(
    pass(
      "token identity",
      `iss ${JSON.stringify(claims.iss)}, sub ${JSON.stringify(claims.sub)}: the app needs a federated identity credential with exactly this issuer and subject (case-sensitive)`,
    ),
  );
  return checks;
}

function tokenRequestFix(error: unknown, jwt: DecodedJwt | undefined, clientId: string): string {
  const codes = AuthenticationError.isInstance(error)
    ? (error.errorResponse?.errorCodes ?? [])
    : [];
  if (isFicMismatch(codes)) {
    const issuer = String(jwt?.claims.iss ?? "ISSUER");
    const subject = String(jwt?.claims.sub ?? "SUBJECT");
    return `Give the app a federated credential for this token: az ad app federated-credential create --id ${clientId} --parameters '{"name":"workload","issuer":"${issuer}","subject":"${subject}","audiences":["${EXCHANGE_AUDIENCE}"]}' (a managed identity: az identity federated-credential create). To see which field differs from an existing one: fedcred inspect --issuer ... --subject ... --audience ...`;
  }
  if (codes.includes(700016))
    return "Check AZURE_CLIENT_ID and AZURE_TENANT_ID: the app must exist in that tenant.";
  if (AuthenticationError.isInstance(error) && error.code === "token_request_failed") {
    return "Check the network route to the authority host (DNS, firewall, the proxy variables).";
  }
  return "Follow the hint in the message.";
}

async function tokenRequestCheck(
  options: DoctorOptions,
  prerequisitesOk: boolean,
  useTokenProxy: boolean,
  jwt: DecodedJwt | undefined,
): Promise<Check> {
  const scope = options.scope as string;
  const name = "token request";
  if (!prerequisitesOk) {
    return fail(
      name,
      `not sent for ${scope}: the checks above must pass first`,
      "Fix the failed checks above.",
    );
  }
  const { workloadIdentityCredential } = await import("@fedcred/kubernetes");
  let credential: ClientAssertionCredential | undefined;
  try {
    credential = workloadIdentityCredential({
      enableAzureProxy: useTokenProxy,
      requestTimeoutInMs: options.timeoutInMs,
      retryOptions: { maxRetries: 0 },
    });
    const started = performance.now();
    const token = await credential.getToken(scope, {
      abortSignal: AbortSignal.timeout(options.timeoutInMs * 2),
    });
    const elapsed = Math.round(performance.now() - started);
    let audience = "";
    try {
      const { decodeJwtPayload } = await import("@fedcred/core");
      audience = ` for ${JSON.stringify(decodeJwtPayload(token.token).aud)}`;
    } catch {
      // Not every access token is a JWT: the audience is a courtesy.
    }
    const via = useTokenProxy ? " through the identity-binding token proxy" : "";
    return pass(
      name,
      `Entra issued a ${token.tokenType ?? "Bearer"} token${audience}${via} in ${elapsed} ms, valid ${formatRelative(token.expiresOnTimestamp / 1000, Date.now() / 1000).replace(/^in /, "for ")} (not printed)`,
    );
  } catch (error) {
    return fail(
      name,
      (error as Error).message,
      tokenRequestFix(error, jwt, options.env.AZURE_CLIENT_ID ?? "CLIENT_ID"),
    );
  } finally {
    await credential?.close();
  }
}

/**
 * Runs every check in order, beginning with the source `detectAssertion()` would pick, handing
 * each to `emit` as soon as it is known. Checks that depend on a failed one are left out, except
 * the token request, which says why it was not sent.
 */
export async function runChecks(
  options: DoctorOptions,
  emit: (check: Check) => void,
): Promise<void> {
  const { env } = options;
  const record = (check: Check): Check => {
    emit(check);
    return check;
  };

  record(checkDetection(env));
  // Detection found another platform's source: the token file and the variables only
  // workloadIdentityCredential reads are not needed, so their absence is said, not failed.
  const detected = describeDetection({ env }).source;
  const otherSource = detected !== undefined && detected !== "token file" ? detected : undefined;
  const optional = (check: Check, inCode: string): Check =>
    otherSource !== undefined && !check.ok && check.detail === "not set"
      ? pass(check.check, `not set: not needed with the ${otherSource} source (${inCode})`)
      : check;
  const tenant = variableCheck(
    env,
    "AZURE_TENANT_ID",
    `Set AZURE_TENANT_ID to the tenant (directory) id. ${WEBHOOK}`,
    (value) => coreRefusal(value, PLACEHOLDER_CLIENT, PUBLIC_CLOUD),
  );
  record(optional(tenant, "give ClientAssertionCredential the tenant id in code"));
  const client = variableCheck(
    env,
    "AZURE_CLIENT_ID",
    `Set AZURE_CLIENT_ID to the client id of the app or managed identity; in AKS, annotate the service account with azure.workload.identity/client-id. ${WEBHOOK}`,
    (value) => coreRefusal(PLACEHOLDER_TENANT, value, PUBLIC_CLOUD),
  );
  record(optional(client, "give ClientAssertionCredential the client id in code"));
  const fileCheck = variableCheck(
    env,
    "AZURE_FEDERATED_TOKEN_FILE",
    `Set AZURE_FEDERATED_TOKEN_FILE to the token file (the webhook projects /var/run/secrets/azure/tokens/azure-identity-token). ${WEBHOOK}`,
    () => undefined,
  );
  record(optional(fileCheck, "the assertion comes from it"));
  const authorityValue = env.AZURE_AUTHORITY_HOST?.trim();
  const authority = record(
    authorityValue
      ? variableCheck(env, "AZURE_AUTHORITY_HOST", "", (value) =>
          coreRefusal(PLACEHOLDER_TENANT, PLACEHOLDER_CLIENT, value),
        )
      : pass("AZURE_AUTHORITY_HOST", `not set: the public cloud, ${PUBLIC_CLOUD}`),
  );

  let jwt: DecodedJwt | undefined;
  const bindingVariables = IDENTITY_BINDING_VARIABLES.filter((name) => env[name]?.trim());
  if (fileCheck.ok) {
    const fileResult = await checkTokenFile(fileCheck.detail);
    for (const check of fileResult.checks) record(check);
    jwt = fileResult.jwt;
    if (jwt !== undefined) {
      for (const check of tokenChecks(jwt, bindingVariables)) record(check);
    }
  }

  const authorityHost = authorityValue || PUBLIC_CLOUD;
  record(describeProxy(env, authority.ok ? authorityHost : PUBLIC_CLOUD));
  if (tenant.ok && authority.ok) {
    record(await checkAuthority(authorityHost, tenant.detail, options.timeoutInMs));
  }
  let bindingOk = true;
  if (bindingVariables.length > 0) {
    const binding = record(await checkIdentityBinding(env, options.timeoutInMs));
    bindingOk = binding.ok;
  }
  if (options.scope !== undefined) {
    // An expired or mismatched token is still sent: Entra's own answer is the proof.
    const prerequisites =
      tenant.ok && client.ok && fileCheck.ok && authority.ok && jwt !== undefined && bindingOk;
    record(await tokenRequestCheck(options, prerequisites, bindingVariables.length > 0, jwt));
  }
}
