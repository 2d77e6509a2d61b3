import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorXml, memberList, memberStructures, resultXml, sendXml } from "./aws-query.js";
import { FaultQueue } from "./faults.js";
import { listen, readBody, sendJson } from "./http.js";
import { createSigningKey, issuerDiscovery, jwks, nowSeconds, type SigningKey } from "./keys.js";
import { verifySigV4 } from "./sigv4.js";
import { serverTlsOf, type TlsAuthority } from "./tls.js";

/**
 * What the identity-based policies of a principal allow it for `GetWebIdentityToken`, as IAM
 * evaluates them: the action `sts:GetWebIdentityToken`, `sts:TagGetWebIdentityToken` as well when
 * the request carries `Tags`, and the conditions of the statement that allows the first. A request
 * outside them is refused with `AccessDenied` (403), worded as AWS words it.
 *
 * @example
 * ```ts
 * // A role that may get tokens for Entra only, RS256, at most 15 minutes, without tags.
 * const permissions: AwsPrincipalPermissions = {
 *   tagGetWebIdentityToken: false,
 *   audiences: ["api://AzureADTokenExchange"],
 *   signingAlgorithms: ["RS256"],
 *   maxDurationSeconds: 900,
 * };
 * ```
 */
export interface AwsPrincipalPermissions {
  /** Whether a policy allows `sts:GetWebIdentityToken`. Defaults to `true`. */
  getWebIdentityToken?: boolean;
  /** Whether a policy allows `sts:TagGetWebIdentityToken`, which requests with `Tags` need. Defaults to `true`. */
  tagGetWebIdentityToken?: boolean;
  /** `sts:IdentityTokenAudience` (`ForAllValues:StringEquals`): every requested audience must be one of these. Any audience when absent. */
  audiences?: readonly string[];
  /** `sts:SigningAlgorithm` (`StringEquals`). Any algorithm when absent. */
  signingAlgorithms?: readonly ("RS256" | "ES384")[];
  /** `sts:DurationSeconds` (`NumericLessThanEquals`), on the requested duration or the default 300. Any when absent. */
  maxDurationSeconds?: number;
}

/**
 * An IAM identity that can call STS: its access key, and who it is.
 *
 * @example
 * ```ts
 * const principal: AwsPrincipal = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", arn: "arn:aws:iam::123456789012:user/alice" };
 * ```
 */
export interface AwsPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  /** Set for temporary keys: requests must carry it as `X-Amz-Security-Token`. */
  sessionToken?: string;
  /** When the temporary keys stop working (`ExpiredToken`), and the latest token expiry they allow. */
  expiresAt?: Date;
  /** `arn:aws:sts::123456789012:assumed-role/billing/session` or `arn:aws:iam::123456789012:user/alice`. */
  arn: string;
  /** `GetCallerIdentity`'s UserId. Defaults to an `AROA...:session` or `AIDA...` id derived from the ARN. */
  userId?: string;
  /** IAM principal tags, copied into the token's `principal_tags`. */
  principalTags?: Record<string, string>;
  /** What its policies allow for `GetWebIdentityToken`. Defaults to everything. */
  permissions?: AwsPrincipalPermissions;
}

/**
 * An AWS account of the emulated STS.
 *
 * @example
 * ```ts
 * const account: AwsAccount = { accountId: "123456789012", outboundWebIdentityFederation: true, principals: [principal] };
 * ```
 */
export interface AwsAccount {
  accountId: string;
  /** Whether `EnableOutboundWebIdentityFederation` has run for the account. Defaults to `false`. */
  outboundWebIdentityFederation?: boolean;
  /** The AWS Organizations id, copied into the token's `org_id`. */
  organizationId?: string;
  principals: readonly AwsPrincipal[];
}

/**
 * The errors STS answers with their own status and AWS's wording when a fault names them.
 *
 * @example
 * ```ts
 * const code: AwsStsFaultCode = "Throttling";
 * ```
 */
export type AwsStsFaultCode =
  | "Throttling"
  | "InternalFailure"
  | "ServiceUnavailable"
  | "JWTPayloadSizeExceededException"
  | "RegionDisabledException";

/**
 * An error the emulated STS answers instead of its normal answer, for a request that passed
 * SigV4 verification (of any action). An {@link AwsStsFaultCode} brings its status and message;
 * any other code (`SignatureDoesNotMatch` with the canonical request appended, say) needs both.
 *
 * @example
 * ```ts
 * const fault: AwsStsFault = { code: "Throttling" }; // 400, "Rate exceeded"
 * sts.injectFault(fault, { count: 2 });
 * ```
 */
export interface AwsStsFault {
  code: AwsStsFaultCode | (string & {});
  /** The HTTP status; a 5xx answers `<Type>Receiver</Type>`, others `Sender`. */
  status?: number;
  message?: string;
}

/**
 * Options of {@link startAwsSts}.
 *
 * @example
 * ```ts
 * const options: AwsStsOptions = { region: "eu-west-1", accounts: [account], tlsAuthority: ca };
 * ```
 */
export interface AwsStsOptions {
  /** The region of this regional endpoint; the SigV4 credential scope must name it. Defaults to `us-east-1`. */
  region?: string;
  accounts: readonly AwsAccount[];
  /** Serve HTTPS with this authority's server certificate (HTTP when absent). */
  tlsAuthority?: TlsAuthority;
  host?: string;
  port?: number;
}

/**
 * One STS request the emulator answered.
 *
 * @example
 * ```ts
 * const [first]: readonly AwsStsRequestRecord[] = sts.requests;
 * ```
 */
export interface AwsStsRequestRecord {
  /** The `Action` parameter, if any. */
  action?: string;
  /** The access key id from the SigV4 credential, if any. */
  accessKeyId?: string;
  /** Every query/form parameter. */
  params: Record<string, string>;
  status: number;
  /** The AWS error code when the request was refused. */
  errorCode?: string;
}

/**
 * A running emulated AWS STS regional endpoint.
 *
 * @example
 * ```ts
 * const sts: AwsSts = await startAwsSts({ accounts: [account] });
 * new STSClient({ region: sts.region, endpoint: sts.url, credentials });
 * ```
 */
export interface AwsSts {
  /** `http://127.0.0.1:PORT` (or `https://localhost:PORT` with a TLS authority): the STS client's `endpoint`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  readonly region: string;
  /** Every STS request answered, in order (issuer discovery is not recorded). */
  readonly requests: readonly AwsStsRequestRecord[];
  /** Faults queued for the next requests that pass SigV4 verification. */
  readonly faults: FaultQueue<AwsStsFault>;
  /** Queues `fault` for the next `count` such requests (default 1). */
  injectFault(fault: AwsStsFault, options?: { count?: number }): void;
  /** The account's outbound federation issuer: `{url}/issuers/{id}`, standing in for `https://{id}.tokens.sts.global.api.aws`. */
  issuer(accountId: string): string;
  /** Turns outbound web identity federation on (the IAM action of that name) and returns the issuer. */
  enableOutboundWebIdentityFederation(accountId: string): string;
  /** The account issuer's JWKS (RS256 and ES384 keys). */
  jwks(accountId: string): { keys: Record<string, unknown>[] };
  close(): Promise<void>;
}

interface AccountState {
  account: AwsAccount;
  enabled: boolean;
  issuerId: string;
  keys: { RS256: SigningKey; ES384: SigningKey };
}

interface PrincipalEntry extends AwsPrincipal {
  accountState: AccountState;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const VERSION = "2011-06-15";
const TOKEN_CLAIMS_NAMESPACE = "https://sts.amazonaws.com/";
const SIGNING_ALGORITHMS = ["RS256", "ES384"] as const;
const SUBJECT_MODES = ["AWSIdentity", "OriginIdentity"];
const ISSUER_PATH = /^\/issuers\/([^/]+)\/\.well-known\/(openid-configuration|jwks\.json)$/;

function iso8601(milliseconds: number): string {
  return new Date(milliseconds).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function uniqueIdSuffix(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return [...randomBytes(17)].map((byte) => alphabet[byte % alphabet.length]).join("");
}

/** `sub` of the web identity token: a role session answers with its role's ARN. */
function subjectArn(arn: string): string {
  const match = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : arn;
}

function defaultUserId(arn: string): string {
  const session = /:assumed-role\/[^/]+\/(.+)$/.exec(arn);
  return session ? `AROA${uniqueIdSuffix()}:${session[1]}` : `AIDA${uniqueIdSuffix()}`;
}

/** Collects Smithy-style constraint failures into one `ValidationError`, as AWS words them. */
function validationError(failures: string[]): StsError {
  const count =
    failures.length === 1
      ? "1 validation error detected"
      : `${failures.length} validation errors detected`;
  return new StsError(400, "ValidationError", `${count}: ${failures.join("; ")}`);
}

function describe(value: unknown): string {
  return value === undefined
    ? "null"
    : `'${Array.isArray(value) ? `[${value.join(", ")}]` : String(value)}'`;
}

function constraint(value: unknown, member: string, rule: string): string {
  return `Value ${describe(value)} at '${member}' failed to satisfy constraint: Member must ${rule}`;
}

interface WebIdentityTokenRequest {
  audiences: string[];
  algorithm: (typeof SIGNING_ALGORITHMS)[number];
  durationSeconds: number;
  tags: Record<string, string>;
}

function parseWebIdentityTokenRequest(params: URLSearchParams): WebIdentityTokenRequest {
  const failures: string[] = [];
  const audiences = memberList(params, "Audience");
  if (audiences === undefined) failures.push(constraint(undefined, "audience", "not be null"));
  else if (audiences.length < 1)
    failures.push(constraint(audiences, "audience", "have length greater than or equal to 1"));
  else if (audiences.length > 10)
    failures.push(constraint(audiences, "audience", "have length less than or equal to 10"));
  else {
    audiences.forEach((audience, index) => {
      if (audience.length < 1 || audience.length > 1000) {
        failures.push(
          constraint(audience, `audience.${index + 1}.member`, "have length between 1 and 1000"),
        );
      }
    });
  }
  const algorithm = params.get("SigningAlgorithm") ?? undefined;
  if (algorithm === undefined)
    failures.push(constraint(undefined, "signingAlgorithm", "not be null"));
  else if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm)) {
    failures.push(
      constraint(
        algorithm,
        "signingAlgorithm",
        `satisfy enum value set: [${SIGNING_ALGORITHMS.join(", ")}]`,
      ),
    );
  }
  const durationText = params.get("DurationSeconds");
  const durationSeconds = durationText === null ? 300 : Number(durationText);
  if (!Number.isInteger(durationSeconds)) {
    failures.push(constraint(durationText, "durationSeconds", "be an integer"));
  } else if (durationSeconds < 60) {
    failures.push(
      constraint(durationSeconds, "durationSeconds", "have value greater than or equal to 60"),
    );
  } else if (durationSeconds > 3600) {
    failures.push(
      constraint(durationSeconds, "durationSeconds", "have value less than or equal to 3600"),
    );
  }
  const tagList = memberStructures(params, "Tags") ?? [];
  const tags: Record<string, string> = {};
  if (tagList.length > 50)
    failures.push(
      constraint(`${tagList.length} tags`, "tags", "have length less than or equal to 50"),
    );
  tagList.forEach((tag, index) => {
    const member = `tags.${index + 1}.member`;
    if (tag.Key === undefined) failures.push(constraint(undefined, `${member}.key`, "not be null"));
    else if (tag.Key.length < 1 || tag.Key.length > 128) {
      failures.push(constraint(tag.Key, `${member}.key`, "have length between 1 and 128"));
    }
    if (tag.Value === undefined)
      failures.push(constraint(undefined, `${member}.value`, "not be null"));
    else if (tag.Value.length > 256)
      failures.push(
        constraint(tag.Value, `${member}.value`, "have length less than or equal to 256"),
      );
    if (tag.Key !== undefined && tag.Value !== undefined) tags[tag.Key] = tag.Value;
  });
  const subjectMode = params.get("SubjectMode") ?? undefined;
  if (subjectMode !== undefined && !SUBJECT_MODES.includes(subjectMode)) {
    failures.push(
      constraint(
        subjectMode,
        "subjectMode",
        `satisfy enum value set: [${SUBJECT_MODES.join(", ")}]`,
      ),
    );
  }
  if (failures.length > 0) throw validationError(failures);
  // The emulated sessions carry no trusted identity propagation context, which OriginIdentity needs.
  if (subjectMode === "OriginIdentity") {
    throw new StsError(
      400,
      "ValidationError",
      "The calling session has no trusted identity propagation context with an origin identity subject.",
    );
  }
  if (params.has("Scope")) {
    throw new StsError(
      400,
      "ValidationError",
      "Scope can be specified only when SubjectMode is OriginIdentity.",
    );
  }
  return {
    audiences: audiences!,
    algorithm: algorithm as WebIdentityTokenRequest["algorithm"],
    durationSeconds,
    tags,
  };
}

const FAULT_ANSWERS: Record<
  AwsStsFaultCode,
  { status: number; message: (accountId: string) => string }
> = {
  Throttling: { status: 400, message: () => "Rate exceeded" },
  InternalFailure: {
    status: 500,
    message: () =>
      "The request processing has failed because of an unknown error, exception or failure.",
  },
  ServiceUnavailable: {
    status: 503,
    message: () => "The request has failed due to a temporary failure of the server.",
  },
  JWTPayloadSizeExceededException: {
    status: 400,
    message: () =>
      "The requested token payload size exceeds the maximum allowed size. Reduce the number of request tags included in the GetWebIdentityToken API call to reduce the token payload size.",
  },
  RegionDisabledException: {
    status: 403,
    message: (accountId) =>
      `STS is not activated in this region for account:${accountId}. Your account administrator can activate STS in this region using the IAM Console.`,
  },
};

function knownFault(code: string): (typeof FAULT_ANSWERS)[AwsStsFaultCode] | undefined {
  return Object.hasOwn(FAULT_ANSWERS, code) ? FAULT_ANSWERS[code as AwsStsFaultCode] : undefined;
}

function checkFault(fault: AwsStsFault): void {
  if (typeof fault.code !== "string" || fault.code === "")
    throw new TypeError("an STS fault needs a code");
  if (!knownFault(fault.code) && (fault.status === undefined || fault.message === undefined)) {
    throw new TypeError(
      `the STS fault ${fault.code} needs a status and a message (known codes: ${Object.keys(FAULT_ANSWERS).join(", ")})`,
    );
  }
}

function faultError(fault: AwsStsFault, accountId: string): StsError {
  const known = knownFault(fault.code);
  return new StsError(
    fault.status ?? known?.status ?? 400,
    fault.code,
    fault.message ?? known?.message(accountId) ?? fault.code,
  );
}

/** The action IAM finds no allowing statement for, if any. */
function deniedAction(
  permissions: AwsPrincipalPermissions,
  request: WebIdentityTokenRequest,
): string | undefined {
  const { audiences, signingAlgorithms, maxDurationSeconds } = permissions;
  const conditionsHold =
    (audiences === undefined ||
      request.audiences.every((audience) => audiences.includes(audience))) &&
    (signingAlgorithms === undefined || signingAlgorithms.includes(request.algorithm)) &&
    (maxDurationSeconds === undefined || request.durationSeconds <= maxDurationSeconds);
  if (permissions.getWebIdentityToken === false || !conditionsHold)
    return "sts:GetWebIdentityToken";
  if (Object.keys(request.tags).length > 0 && permissions.tagGetWebIdentityToken === false)
    return "sts:TagGetWebIdentityToken";
  return undefined;
}

/**
 * Starts an emulated AWS STS regional endpoint on loopback: the query protocol with SigV4
 * verification of every request, `GetCallerIdentity`, and `GetWebIdentityToken` (outbound
 * identity federation) with its per-account issuer discovery and JWKS.
 *
 * @example
 * ```ts
 * const sts = await startAwsSts({
 *   accounts: [{
 *     accountId: "123456789012",
 *     outboundWebIdentityFederation: true,
 *     principals: [{ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", arn: "arn:aws:sts::123456789012:assumed-role/billing/job" }],
 *   }],
 * });
 * const client = new STSClient({ endpoint: sts.url, region: sts.region, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
 * await client.send(new GetWebIdentityTokenCommand({ Audience: ["api://AzureADTokenExchange"], SigningAlgorithm: "RS256" }));
 * await sts.close();
 * ```
 */
export async function startAwsSts(options: AwsStsOptions): Promise<AwsSts> {
  const region = options.region ?? "us-east-1";
  const accounts = new Map<string, AccountState>();
  const issuers = new Map<string, AccountState>();
  const principals = new Map<string, PrincipalEntry>();
  for (const account of options.accounts) {
    const state: AccountState = {
      account,
      enabled: account.outboundWebIdentityFederation ?? false,
      issuerId: randomUUID(),
      keys: { RS256: await createSigningKey("RS256"), ES384: await createSigningKey("ES384") },
    };
    accounts.set(account.accountId, state);
    issuers.set(state.issuerId, state);
    for (const principal of account.principals) {
      principals.set(principal.accessKeyId, {
        ...principal,
        userId: principal.userId ?? defaultUserId(principal.arn),
        accountState: state,
      });
    }
  }
  const requests: AwsStsRequestRecord[] = [];
  const faults = new FaultQueue<AwsStsFault>(checkFault);
  let baseUrl = "";
  const issuerOf = (state: AccountState): string => `${baseUrl}/issuers/${state.issuerId}`;
  const accountState = (accountId: string): AccountState => {
    const state = accounts.get(accountId);
    if (!state) throw new Error(`unknown AWS account ${accountId}`);
    return state;
  };

  const getWebIdentityToken = async (
    caller: PrincipalEntry,
    params: URLSearchParams,
  ): Promise<Record<string, string>> => {
    const request = parseWebIdentityTokenRequest(params);
    // IAM authorizes the parsed request (its condition keys) before the operation reads the
    // account's federation setting: a denied caller learns nothing about it.
    const denied = deniedAction(caller.permissions ?? {}, request);
    if (denied) {
      throw new StsError(
        403,
        "AccessDenied",
        `User: ${caller.arn} is not authorized to perform: ${denied} because no identity-based policy allows the ${denied} action`,
      );
    }
    const state = caller.accountState;
    if (!state.enabled) {
      throw new StsError(
        403,
        "OutboundWebIdentityFederationDisabledException",
        "Outbound web identity federation is not enabled for this account. Enable it with EnableOutboundWebIdentityFederation.",
      );
    }
    const issuedAt = nowSeconds();
    const expiresAt = issuedAt + request.durationSeconds;
    if (caller.expiresAt && expiresAt * 1000 > caller.expiresAt.getTime()) {
      throw new StsError(
        403,
        "SessionDurationEscalationException",
        "The requested token duration would extend the session beyond its original expiration time.",
      );
    }
    const awsClaims: Record<string, unknown> = {
      aws_account: state.account.accountId,
      source_region: region,
      principal_id: caller.arn,
      ...(state.account.organizationId ? { org_id: state.account.organizationId } : {}),
      ...(caller.principalTags && Object.keys(caller.principalTags).length > 0
        ? { principal_tags: caller.principalTags }
        : {}),
      ...(Object.keys(request.tags).length > 0 ? { request_tags: request.tags } : {}),
    };
    // Claim order and shape follow AWS's documented sample token (it has no `nbf`).
    const token = await state.keys[request.algorithm].sign({
      iss: issuerOf(state),
      aud: request.audiences.length === 1 ? request.audiences[0] : request.audiences,
      sub: subjectArn(caller.arn),
      iat: issuedAt,
      exp: expiresAt,
      jti: randomUUID(),
      [TOKEN_CLAIMS_NAMESPACE]: awsClaims,
    });
    return { WebIdentityToken: token, Expiration: iso8601(expiresAt * 1000) };
  };

  const handleAction = async (
    action: string | undefined,
    version: string | undefined,
    caller: PrincipalEntry,
    params: URLSearchParams,
  ): Promise<Record<string, string>> => {
    if (!action) throw new StsError(400, "MissingAction", "Missing Action");
    if (version !== VERSION) {
      throw new StsError(
        400,
        "InvalidAction",
        `Could not find operation ${action} for version ${version ?? "NO_VERSION_SPECIFIED"}`,
      );
    }
    switch (action) {
      case "GetCallerIdentity":
        return {
          Arn: caller.arn,
          UserId: caller.userId!,
          Account: caller.accountState.account.accountId,
        };
      case "GetWebIdentityToken":
        return getWebIdentityToken(caller, params);
      default:
        throw new StsError(
          400,
          "InvalidAction",
          `Could not find operation ${action} for version ${version}`,
        );
    }
  };

  const serveIssuer = (response: ServerResponse, issuerId: string, document: string): void => {
    const state = issuers.get(issuerId);
    // The issuer exists only once the account has enabled outbound federation.
    if (!state?.enabled) {
      sendJson(response, 404, { message: "Not Found" });
      return;
    }
    if (document === "jwks.json") {
      sendJson(response, 200, jwks([state.keys.RS256, state.keys.ES384]));
      return;
    }
    const issuer = issuerOf(state);
    sendJson(
      response,
      200,
      issuerDiscovery(issuer, `${issuer}/.well-known/jwks.json`, SIGNING_ALGORITHMS),
    );
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = request.url ?? "/";
    const url = new URL(target, "http://localhost");
    const issuerMatch = ISSUER_PATH.exec(url.pathname);
    if (request.method === "GET" && issuerMatch) {
      return serveIssuer(response, issuerMatch[1]!, issuerMatch[2]!);
    }

    const body = await readBody(request);
    const requestId = randomUUID();
    const params = new URLSearchParams();
    for (const [name, value] of url.searchParams)
      if (!name.startsWith("X-Amz-")) params.append(name, value);
    if (request.method === "POST")
      for (const [name, value] of new URLSearchParams(body)) params.append(name, value);
    const record: AwsStsRequestRecord = {
      ...(params.get("Action") ? { action: params.get("Action")! } : {}),
      params: Object.fromEntries(params),
      status: 0,
    };
    const answer = (status: number, xml: string, errorCode?: string): void => {
      record.status = status;
      if (errorCode) record.errorCode = errorCode;
      requests.push(record);
      sendXml(response, status, xml, requestId);
    };
    const refuse = (error: StsError): void =>
      answer(
        error.status,
        errorXml(error.status, error.code, error.message, requestId),
        error.code,
      );

    if (url.pathname !== "/" || (request.method !== "POST" && request.method !== "GET")) {
      return refuse(
        new StsError(
          404,
          "UnknownOperationException",
          `${request.method} ${url.pathname} is not an STS endpoint`,
        ),
      );
    }
    const verified = verifySigV4(
      { method: request.method, target, rawHeaders: request.rawHeaders, body },
      { region, service: "sts", lookup: (accessKeyId) => principals.get(accessKeyId) },
    );
    if (!verified.ok) {
      if (verified.accessKeyId) record.accessKeyId = verified.accessKeyId;
      return refuse(new StsError(verified.status, verified.code, verified.message));
    }
    record.accessKeyId = verified.accessKeyId;
    const fault = faults.take();
    if (fault) return refuse(faultError(fault, verified.key.accountState.account.accountId));
    const action = params.get("Action") ?? undefined;
    try {
      const result = await handleAction(
        action,
        params.get("Version") ?? undefined,
        verified.key,
        params,
      );
      answer(200, resultXml(action!, result, requestId));
    } catch (error) {
      if (error instanceof StsError) return refuse(error);
      throw error;
    }
  };

  const server = await listen(handler, {
    host: options.host,
    port: options.port,
    ...serverTlsOf(options.tlsAuthority),
  });
  baseUrl = server.url;

  return {
    url: server.url,
    port: server.port,
    region,
    requests,
    faults,
    injectFault: (fault, faultOptions = {}) => faults.push(fault, faultOptions.count ?? 1),
    issuer: (accountId) => issuerOf(accountState(accountId)),
    enableOutboundWebIdentityFederation: (accountId) => {
      const state = accountState(accountId);
      state.enabled = true;
      return issuerOf(state);
    },
    jwks: (accountId) => {
      const state = accountState(accountId);
      return jwks([state.keys.RS256, state.keys.ES384]) as { keys: Record<string, unknown>[] };
    },
    close: () => server.close(),
  };
}
