import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type CannedAnswer, checkCannedAnswer, playCannedAnswer } from "./canned-answer.js";
import { FaultQueue } from "./faults.js";
import { listen, readBody, sendJson } from "./http.js";
import { createSigningKey, issuerDiscovery, jwks, nowSeconds, type SigningKey } from "./keys.js";
import { serverTlsOf, type TlsAuthority } from "./tls.js";

/**
 * The workflow job whose runner asks for ID tokens: what goes into the token's claims.
 *
 * @example
 * ```ts
 * const job: GitHubActionsJob = { repository: "octo-org/octo-repo", environment: "prod" };
 * ```
 */
export interface GitHubActionsJob {
  /** `owner/name`. */
  repository: string;
  /** Defaults to `refs/heads/main`. */
  ref?: string;
  /** The deployment environment of the job: the subject becomes `repo:{repository}:environment:{name}`. */
  environment?: string;
  /** Defaults to `push`. `pull_request` makes the subject `repo:{repository}:pull_request`. */
  eventName?: string;
  /** Defaults to `ci`. */
  workflow?: string;
  /** Defaults to `{repository}/.github/workflows/{workflow}.yml@{ref}`. */
  jobWorkflowRef?: string;
  /** Defaults to `octocat`. */
  actor?: string;
  /** Defaults to `github-hosted`. */
  runnerEnvironment?: "github-hosted" | "self-hosted";
  /** The `sub` as a repository's customized subject template makes it; the default follows GitHub's rules above. */
  subject?: string;
}

/**
 * Options of {@link startGitHubActions}.
 *
 * @example
 * ```ts
 * const options: GitHubActionsOptions = { job: { repository: "octo-org/octo-repo" }, tokenLifetimeSeconds: 300 };
 * ```
 */
export interface GitHubActionsOptions {
  job: GitHubActionsJob;
  /** `exp - iat` of the ID tokens. Defaults to 300, as GitHub's (their `nbf` is 600 s before `iat`). */
  tokenLifetimeSeconds?: number;
  /** Serve HTTPS with this authority's server certificate (HTTP on loopback when absent). */
  tlsAuthority?: TlsAuthority;
  host?: string;
  port?: number;
}

/**
 * One request the token service answered.
 *
 * @example
 * ```ts
 * const [first]: readonly GitHubActionsRequestRecord[] = actions.requests;
 * first?.audience; // "api://AzureADTokenExchange"
 * ```
 */
export interface GitHubActionsRequestRecord {
  method: string;
  path: string;
  /** The `audience` query parameter, when there was one. */
  audience?: string;
  /** The `api-version` query parameter, when there was one. */
  apiVersion?: string;
  /** Whether the request carried `Authorization: Bearer {requestToken}`. */
  authorized: boolean;
  /** The `Accept` header, when there was one. */
  accept?: string;
  status: number;
}

/**
 * A running GitHub Actions ID-token service: the endpoint a runner's
 * `ACTIONS_ID_TOKEN_REQUEST_URL` names, and the OIDC issuer (standing in for
 * `https://token.actions.githubusercontent.com`) whose discovery document and JWKS Entra reads.
 *
 * @example
 * ```ts
 * const actions: GitHubActionsTokenService = await startGitHubActions({ job: { repository: "octo-org/octo-repo" } });
 * process.env.ACTIONS_ID_TOKEN_REQUEST_URL = actions.requestUrl;
 * process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = actions.requestToken;
 * ```
 */
export interface GitHubActionsTokenService {
  readonly url: string;
  readonly port: number;
  /** The `iss` of every token, and the issuer of the Entra FIC. */
  readonly issuer: string;
  /** The `sub` of the job's tokens (for example `repo:octo-org/octo-repo:ref:refs/heads/main`). */
  readonly subject: string;
  /** `ACTIONS_ID_TOKEN_REQUEST_URL`: the job's token endpoint, with `?api-version=2.0` already in it. */
  readonly requestUrl: string;
  /** `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the bearer token the endpoint requires. */
  readonly requestToken: string;
  /** Both variables, as the runner sets them for a job with `permissions: id-token: write`. */
  env(): { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string };
  /** Every request to the token endpoint (not the issuer's documents), oldest first. */
  readonly requests: readonly GitHubActionsRequestRecord[];
  /** ID tokens minted so far. */
  readonly tokenCount: number;
  /** Answers queued for the next requests to the token endpoint, played before any check. */
  readonly faults: FaultQueue<CannedAnswer>;
  /** Queues `answer` for the next `count` token requests (default 1). */
  injectFault(answer: CannedAnswer, options?: { count?: number }): void;
  /** Ends the job: its request token is refused from now on, as after a job completes. */
  endJob(): void;
  /** The issuer's JWKS. */
  jwks(): { keys: Record<string, unknown>[] };
  close(): Promise<void>;
}

/** The repository owner's URL: the audience GitHub puts in a token asked for without `audience`. */
function defaultAudience(repository: string): string {
  return `https://github.com/${repository.split("/")[0]}`;
}

function subjectOf(job: GitHubActionsJob, ref: string, eventName: string): string {
  if (job.subject) return job.subject;
  if (job.environment) return `repo:${job.repository}:environment:${job.environment}`;
  if (eventName === "pull_request") return `repo:${job.repository}:pull_request`;
  return `repo:${job.repository}:ref:${ref}`;
}

/** The error document of the Azure DevOps-based services behind `ACTIONS_ID_TOKEN_REQUEST_URL`. */
function serviceError(typeKey: string, message: string): Record<string, unknown> {
  return {
    $id: "1",
    innerException: null,
    message,
    typeName: `GitHub.Services.WebApi.${typeKey}, GitHub.Services.WebApi`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  };
}

/**
 * Starts an emulated GitHub Actions ID-token service on loopback. `GET {requestUrl}&audience=...`
 * with `Authorization: Bearer {requestToken}` answers `{ "value": "<jwt>" }`, a token with
 * GitHub's claims (`sub`, `repository`, `ref`, `job_workflow_ref`, `runner_environment`, ...);
 * without `audience`, the token's `aud` is the owner's URL, as GitHub does. A missing or wrong
 * bearer token, or one of an ended job, gets 401; another method 405; a path without `api-version`
 * 400. The same server is the tokens' OIDC issuer.
 *
 * @example
 * ```ts
 * const actions = await startGitHubActions({ job: { repository: "octo-org/octo-repo" } });
 * const response = await fetch(`${actions.requestUrl}&audience=api://AzureADTokenExchange`, {
 *   headers: { authorization: `Bearer ${actions.requestToken}` },
 * });
 * const { value } = (await response.json()) as { value: string };
 * await actions.close();
 * ```
 */
export async function startGitHubActions(
  options: GitHubActionsOptions,
): Promise<GitHubActionsTokenService> {
  const { job } = options;
  if (!/^[^/\s]+\/[^/\s]+$/.test(job.repository)) {
    throw new TypeError(
      `job.repository must be "owner/name", got ${JSON.stringify(job.repository)}`,
    );
  }
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 300;
  const ref = job.ref ?? "refs/heads/main";
  const eventName = job.eventName ?? "push";
  const workflow = job.workflow ?? "ci";
  const subject = subjectOf(job, ref, eventName);
  const [owner] = job.repository.split("/") as [string, string];
  const planId = randomUUID();
  const jobId = randomUUID();
  const runId = String(1_000_000_000 + Math.floor(Math.random() * 1_000_000_000));
  const sha = randomBytes(20).toString("hex");
  const requestToken = randomBytes(32).toString("base64url");
  const tokenPath = `/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/${planId}/jobs/${jobId}/idtoken`;
  const key: SigningKey = await createSigningKey("RS256");
  const requests: GitHubActionsRequestRecord[] = [];
  const faults = new FaultQueue<CannedAnswer>(checkCannedAnswer);
  let tokenCount = 0;
  let jobEnded = false;
  let base = "";

  const mint = (audience: string): Promise<string> => {
    const now = nowSeconds();
    tokenCount += 1;
    // Claim names, order and the nbf 600 s before iat follow GitHub's documented example token.
    return key.sign({
      jti: randomUUID(),
      sub: subject,
      ...(job.environment ? { environment: job.environment } : {}),
      aud: audience,
      ref,
      sha,
      repository: job.repository,
      repository_owner: owner,
      actor_id: "583231",
      repository_visibility: "private",
      repository_id: "74",
      repository_owner_id: "65",
      run_id: runId,
      run_number: "10",
      run_attempt: "1",
      runner_environment: job.runnerEnvironment ?? "github-hosted",
      actor: job.actor ?? "octocat",
      workflow,
      head_ref: "",
      base_ref: "",
      event_name: eventName,
      ref_type: ref.startsWith("refs/tags/") ? "tag" : "branch",
      workflow_ref: `${job.repository}/.github/workflows/${workflow}.yml@${ref}`,
      workflow_sha: sha,
      job_workflow_ref:
        job.jobWorkflowRef ?? `${job.repository}/.github/workflows/${workflow}.yml@${ref}`,
      job_workflow_sha: sha,
      iss: base,
      nbf: now - 600,
      exp: now + lifetimeSeconds,
      iat: now,
    });
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    if (method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      sendJson(
        response,
        200,
        issuerDiscovery(base, `${base}/.well-known/jwks`, ["RS256"], {
          subject_types_supported: ["public", "pairwise"],
          scopes_supported: ["openid"],
          claims_supported: [
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "ref",
            "repository",
            "repository_owner",
            "run_id",
            "workflow",
            "environment",
            "job_workflow_ref",
            "runner_environment",
          ],
        }),
      );
      return;
    }
    if (method === "GET" && url.pathname === "/.well-known/jwks") {
      sendJson(response, 200, jwks([key]));
      return;
    }

    await readBody(request);
    const authorization = request.headers.authorization ?? "";
    const record: GitHubActionsRequestRecord = {
      method,
      path: url.pathname,
      authorized: authorization === `Bearer ${requestToken}`,
      status: 0,
    };
    const audienceParameter = url.searchParams.get("audience");
    if (audienceParameter !== null) record.audience = audienceParameter;
    const apiVersion = url.searchParams.get("api-version");
    if (apiVersion !== null) record.apiVersion = apiVersion;
    if (request.headers.accept) record.accept = request.headers.accept;
    requests.push(record);
    const headers = { "x-vss-e2eid": randomUUID(), "x-github-request-id": randomUUID() };
    const answer = (status: number, body: unknown): void => {
      record.status = status;
      sendJson(response, status, body, headers);
    };

    const fault = faults.take();
    if (fault) {
      record.status = fault.status ?? 200;
      await playCannedAnswer(response, fault);
      return;
    }
    if (url.pathname !== tokenPath) {
      answer(404, serviceError("NotFoundException", `The resource ${url.pathname} was not found.`));
      return;
    }
    if (method !== "GET") {
      answer(405, { message: `The requested resource does not support http method '${method}'.` });
      return;
    }
    if (!record.authorized || jobEnded) {
      answer(
        401,
        serviceError(
          "UnauthorizedRequestException",
          "TF400813: Resource not available for anonymous access. Client authentication required.",
        ),
      );
      return;
    }
    if (apiVersion === null) {
      answer(
        400,
        serviceError(
          "VssVersionNotSpecifiedException",
          `No api-version was supplied for the ${method} request. An api-version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").`,
        ),
      );
      return;
    }
    const audience =
      audienceParameter === null || audienceParameter === ""
        ? defaultAudience(job.repository)
        : audienceParameter;
    answer(200, { value: await mint(audience) });
  };

  const server = await listen(handler, {
    host: options.host,
    port: options.port,
    ...serverTlsOf(options.tlsAuthority),
  });
  base = server.url;
  const requestUrl = `${base}${tokenPath}?api-version=2.0`;

  return {
    url: server.url,
    port: server.port,
    issuer: base,
    subject,
    requestUrl,
    requestToken,
    env: () => ({
      ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    }),
    requests,
    get tokenCount() {
      return tokenCount;
    },
    faults,
    injectFault: (answer, faultOptions = {}) => faults.push(answer, faultOptions.count ?? 1),
    endJob: () => {
      jobEnded = true;
    },
    jwks: () => jwks([key]) as { keys: Record<string, unknown>[] },
    close: () => server.close(),
  };
}
