import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  logger,
  type MemoizedAssertion,
  memoizeAssertion,
  raceAbort,
} from "@fedcred/core";
import { credentialsTimedOut, obtainCredentials } from "./aws-credentials.js";
import { resolveRegion } from "./aws-region.js";
import {
  type ClientOrigin,
  type ClientSts,
  loadClientSts,
  type StsClientLike,
} from "./client-sts.js";
import { invalid, isPlainObject, shown } from "./option-values.js";
import { checkTags } from "./session-tags.js";
import {
  describeFailure,
  notStsAnswer,
  REACH_STS,
  type WebIdentityTokenCall,
} from "./sts-failure.js";

/**
 * Options of {@link fromAwsWebIdentityToken}.
 *
 * @example
 * ```ts
 * import type { AwsWebIdentityTokenOptions } from "@fedcred/aws";
 *
 * const options: AwsWebIdentityTokenOptions = { region: "eu-west-1", durationSeconds: 900, tags: { team: "billing" } };
 * ```
 */
export interface AwsWebIdentityTokenOptions {
  /**
   * The token's audience (`aud`), which the federated identity credential must list: one string,
   * or up to 10. Default `api://AzureADTokenExchange` (US Government:
   * `api://AzureADTokenExchangeUSGov`, China: `api://AzureADTokenExchangeChina`).
   */
  audience?: string | readonly string[];
  /**
   * How STS signs the token. Default `RS256`, the one Entra ID accepts for federated assertions;
   * with `ES384` Entra answers AADSTS5002730 (a warning is logged once).
   */
  signingAlgorithm?: "RS256" | "ES384";
  /** The token's lifetime: a whole number of seconds from 60 to 3600. Default 300, always sent explicitly. */
  durationSeconds?: number;
  /**
   * Tags STS copies into the token (`request_tags` under `https://sts.amazonaws.com/`), a plain
   * object: at most 50, keys of 1 to 128 characters and values of at most 256, of letters,
   * digits, spaces and `_ . : / = + - @`; no key starts with `aws:`, and no two differ only in
   * letter case. The caller then also needs `sts:TagGetWebIdentityToken`.
   */
  tags?: Readonly<Record<string, string>>;
  /**
   * The region whose STS endpoint is called (`GetWebIdentityToken` has no global endpoint).
   * Default: the SDK's resolution (`AWS_REGION`, then the AWS profile's `region`).
   */
  region?: string;
  /**
   * An `STSClient` of `@aws-sdk/client-sts` (3.936.0 or newer) to send the request with, as
   * configured (region, credentials, endpoint, retries). Not with `region` or `clientConfig`.
   */
  client?: StsClientLike;
  /**
   * The configuration of the `STSClient` fedcred creates (an `STSClientConfig`): `credentials`
   * (default: the SDK's default provider chain), `endpoint` (`AWS_ENDPOINT_URL_STS` works too),
   * `maxAttempts`, `retryStrategy`, `requestHandler`, ...
   */
  clientConfig?: object;
  /**
   * One deadline for each call, in milliseconds, over obtaining the AWS credentials and
   * `GetWebIdentityToken`, the SDK's retries included. Default 30 000.
   */
  requestTimeoutInMs?: number;
}

/** The audience Entra ID expects of federated tokens in the public cloud. */
const DEFAULT_AUDIENCE = "api://AzureADTokenExchange";
const SIGNING_ALGORITHMS = ["RS256", "ES384"] as const;
const MIN_DURATION_SECONDS = 60;
const MAX_DURATION_SECONDS = 3600;
const MAX_AUDIENCES = 10;
/** The token is fetched anew once this much of its lifetime has passed, as the kubelet renews its tokens. */
const RENEW_AT = 0.8;
const DEFAULT_TIMEOUT_MS = 30_000;
/** A partition prefix, words, and a number: what every AWS region's name looks like. */
const REGION_NAME = /^[a-z]{2,}(-[a-z0-9]+)*-\d{1,2}$/;

let warnedEs384 = false;

/**
 * An assertion from AWS STS `GetWebIdentityToken` (IAM outbound identity federation): a JWT
 * that STS signs for the IAM role this workload runs as (EC2 instance profile, ECS task role, EKS
 * pod role, Lambda execution role), sent through `@aws-sdk/client-sts` (a peer dependency,
 * loaded on the first call) with the SDK's default credential chain. The token is kept until 80%
 * of its lifetime (STS's `Expiration`) has passed; concurrent calls share one STS call;
 * `context.forceRefresh` (Entra said AADSTS700024) asks STS again at once.
 *
 * Its issuer is the account's `https://{id}.tokens.sts.global.api.aws` and its subject the
 * role's ARN (`arn:aws:iam::{account}:role/{name}`): the federated identity credential must name
 * both, and the audience.
 *
 * @throws {@link CredentialUnavailableError} at once for invalid options (`invalid_configuration`).
 *   Calls reject with `CredentialUnavailableError` when no region or no AWS credentials are found
 *   (`missing_configuration`), `@aws-sdk/client-sts` is missing, the AWS credentials cannot be
 *   obtained, STS is out of reach or unavailable (5xx), or something else answers in its place
 *   (`assertion_unavailable`); and with `AuthenticationError` (`assertion_failed`) when STS
 *   refuses, naming the fix (enabling outbound federation, the IAM permission, the credentials).
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromAwsWebIdentityToken } from "@fedcred/aws";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromAwsWebIdentityToken());
 * ```
 */
export function fromAwsWebIdentityToken(options: AwsWebIdentityTokenOptions = {}): AssertionFunc {
  if (!isPlainObject(options)) {
    throw invalid(
      `fromAwsWebIdentityToken takes an options object (a plain object), or nothing, got ${shown(options)}.`,
    );
  }
  const audiences = checkAudience(options.audience);
  const signingAlgorithm = options.signingAlgorithm ?? "RS256";
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(signingAlgorithm)) {
    throw invalid(
      `options.signingAlgorithm must be "RS256" (the one Entra ID accepts) or "ES384", got ${shown(signingAlgorithm)}.`,
    );
  }
  const durationSeconds = options.durationSeconds ?? 300;
  if (
    !Number.isInteger(durationSeconds) ||
    durationSeconds < MIN_DURATION_SECONDS ||
    durationSeconds > MAX_DURATION_SECONDS
  ) {
    throw invalid(
      `options.durationSeconds must be a whole number of seconds from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS} (what GetWebIdentityToken allows), got ${shown(durationSeconds)}.`,
    );
  }
  const tags = checkTags(options.tags);
  const timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutInMs) || timeoutInMs < 1 || timeoutInMs > 2 ** 31 - 1) {
    throw invalid(
      `options.requestTimeoutInMs must be a whole number of milliseconds of at least 1, got ${shown(timeoutInMs)}.`,
    );
  }
  const { clientFor, origin } = checkClient(options);
  if (signingAlgorithm === "ES384" && !warnedEs384) {
    warnedEs384 = true;
    logger.warning(
      'fromAwsWebIdentityToken: signingAlgorithm "ES384" is set, but Entra ID accepts only RS256-signed federated assertions (it answers AADSTS5002730). Use "RS256", the default, for Entra.',
    );
  }

  const call: WebIdentityTokenCall = {
    audiences,
    signingAlgorithm,
    durationSeconds,
    tagged: tags.length > 0,
  };
  const input = {
    Audience: [...audiences],
    SigningAlgorithm: signingAlgorithm,
    DurationSeconds: durationSeconds,
    ...(tags.length > 0 ? { Tags: tags } : {}),
  };

  return memoizeAssertion(async (context: AssertionContext): Promise<MemoizedAssertion> => {
    const clientSts = await loadClientSts();
    const client = clientFor(clientSts);
    const command = new clientSts.GetWebIdentityTokenCommand(input);
    // One deadline over the credentials and the call, the SDK's retries included.
    const deadline = AbortSignal.timeout(timeoutInMs);
    const callerSignal = context.abortSignal;
    const abortSignal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
    const startedAt = Date.now();
    let step: "credentials" | "sts" = "credentials";
    let output: { WebIdentityToken?: unknown; Expiration?: unknown } | undefined;
    try {
      await raceAbort(
        resolveRegion(client, origin).then(() => obtainCredentials(client, origin)),
        abortSignal,
        reasonOf,
      );
      step = "sts";
      output = (await raceAbort(
        client.send(command as never, { abortSignal }),
        abortSignal,
        reasonOf,
      )) as typeof output;
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (deadline.aborted) {
        throw step === "credentials"
          ? credentialsTimedOut(origin, timeoutInMs)
          : new CredentialUnavailableError(
              `AWS STS did not answer GetWebIdentityToken within ${timeoutInMs} ms (options.requestTimeoutInMs): ${REACH_STS}`,
              "assertion_unavailable",
            );
      }
      // resolveRegion and obtainCredentials have said what went wrong.
      throw step === "credentials" ? error : describeFailure(error, call);
    }
    return checkOutput(output, startedAt);
  });
}

function checkAudience(audience: AwsWebIdentityTokenOptions["audience"]): readonly string[] {
  const audiences = audience === undefined ? [DEFAULT_AUDIENCE] : audience;
  const list = typeof audiences === "string" ? [audiences] : audiences;
  if (
    !Array.isArray(list) ||
    list.length < 1 ||
    list.length > MAX_AUDIENCES ||
    !list.every((value) => typeof value === "string" && value.trim() !== "" && value.length <= 1000)
  ) {
    throw invalid(
      `options.audience must be a non-empty string (at most 1000 characters), or 1 to ${MAX_AUDIENCES} of them, such as ${DEFAULT_AUDIENCE}.`,
    );
  }
  return list as readonly string[];
}

/** The reason a race over the deadline and the caller's signal ends with: the signal's own. */
const reasonOf = (signal: AbortSignal): unknown => signal.reason;

/**
 * The client to send with (the one given, or one created on the first call from `clientConfig`
 * and `region`), and where its credentials come from.
 */
function checkClient(options: AwsWebIdentityTokenOptions): {
  clientFor: (clientSts: ClientSts) => StsClientLike;
  origin: ClientOrigin;
} {
  const { client, clientConfig, region } = options;
  if (region !== undefined) checkRegion(region, "options.region");
  if (client !== undefined) {
    if (typeof client?.send !== "function") {
      throw invalid("options.client must be an STSClient of @aws-sdk/client-sts.");
    }
    if (clientConfig !== undefined || region !== undefined) {
      throw invalid(
        "options.client is configured already: options.region and options.clientConfig apply only to the STSClient fedcred creates. Configure your STSClient instead.",
      );
    }
    return {
      clientFor: () => client,
      origin: {
        region: "options.client's region",
        credentials: "options.client's credentials provider",
        mayBeDefaultChain: true,
      },
    };
  }
  if (clientConfig !== undefined && (typeof clientConfig !== "object" || clientConfig === null)) {
    throw invalid("options.clientConfig must be an STSClientConfig object.");
  }
  const configured = clientConfig as { region?: unknown; credentials?: unknown } | undefined;
  if (region !== undefined && configured?.region !== undefined) {
    throw invalid("options.region and options.clientConfig.region are both set: set one.");
  }
  // A provider function is the SDK's to call; a string is checked as options.region is.
  if (configured?.region !== undefined && typeof configured.region !== "function") {
    checkRegion(configured.region, "options.clientConfig.region");
  }
  let created: StsClientLike | undefined;
  const given = configured?.credentials !== undefined;
  return {
    clientFor: (clientSts) => {
      created ??= new clientSts.STSClient({
        ...clientConfig,
        ...(region !== undefined ? { region } : {}),
      });
      return created;
    },
    origin: {
      // A string region was checked above; a provider function is the only other kind.
      region: configured?.region !== undefined ? "options.clientConfig.region" : undefined,
      credentials: given ? "options.clientConfig.credentials" : "the SDK's default provider chain",
      mayBeDefaultChain: !given,
    },
  };
}

/** An AWS region name (`us-east-1`, `us-gov-west-1`, `us-isob-east-1`), or the factory throws naming `name`. */
function checkRegion(region: unknown, name: string): void {
  if (typeof region !== "string" || region.length > 63 || !REGION_NAME.test(region)) {
    throw invalid(`${name} must be an AWS region name such as "eu-west-1", got ${shown(region)}.`);
  }
}

/** What STS answered, checked: a token, and an expiry still ahead. */
function checkOutput(
  output: { WebIdentityToken?: unknown; Expiration?: unknown } | undefined,
  startedAt: number,
): MemoizedAssertion {
  const token = output?.WebIdentityToken;
  const expiration = output?.Expiration;
  const expiresOnTimestamp =
    expiration instanceof Date ? expiration.getTime() : Date.parse(String(expiration));
  if (typeof token !== "string" || token === "" || !Number.isFinite(expiresOnTimestamp)) {
    throw notStsAnswer(200);
  }
  if (expiresOnTimestamp <= Date.now()) {
    throw new AuthenticationError(
      `AWS STS issued a web identity token that expired at ${new Date(expiresOnTimestamp).toISOString()}: check this machine's clock.`,
      "assertion_failed",
    );
  }
  return {
    assertion: token,
    expiresOnTimestamp,
    refreshAfterTimestamp: startedAt + RENEW_AT * (expiresOnTimestamp - startedAt),
  };
}
