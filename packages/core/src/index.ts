export { raceAbort } from "./abort.js";
export type { AssertionContext, AssertionFunc } from "./assertion.js";
export { AZURE_AUTHORITY_HOST, AzureAuthorityHosts } from "./authority.js";
export {
  type GetBearerTokenProviderOptions,
  getBearerTokenProvider,
} from "./bearer-token-provider.js";
export { chainAssertions } from "./chain.js";
export {
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
} from "./client-assertion-credential.js";
export {
  type DetectAssertionOptions,
  type DetectedAssertion,
  type DetectedSource,
  type Detection,
  describeDetection,
  detectAssertion,
} from "./detect.js";
export {
  AuthenticationError,
  type AuthenticationErrorCode,
  type AuthenticationErrorDetails,
  type CredentialUnavailableCode,
  CredentialUnavailableError,
  FedcredError,
  type TokenErrorResponse,
} from "./errors.js";
export {
  exchangeAudienceFor,
  memoizeAssertionPerAudience,
  PUBLIC_EXCHANGE_AUDIENCE,
} from "./exchange-audience.js";
export { decodeJwtPayload, type JwtClaims } from "./jwt.js";
export { type FedcredLogger, logger } from "./logger.js";
export {
  type MemoizeAssertionOptions,
  type MemoizedAssertion,
  memoizeAssertion,
} from "./memo.js";
export { isMetadataHostname } from "./metadata-endpoint.js";
export { checkTimeoutInMs } from "./option-checks.js";
export type {
  HttpClientLike,
  HttpHeadersLike,
  LoggingOptions,
  PipelineRequestLike,
  PipelineResponseLike,
  ProxySettings,
  TlsSettings,
  UserAgentOptions,
} from "./options.js";
export type { RetryOptions } from "./retry.js";
export {
  appendQuery,
  checkSourceJwt,
  describeUrl,
  type QuoteServerTextOptions,
  quoteServerText,
  restateTransportFailure,
  retryAfterInMs,
  type SendWithRetriesOptions,
  type SourceJwtCheck,
  sendWithRetries,
  waitBeforeRetry,
} from "./source-request.js";
export { AZURE_IDENTITY_DISABLE_MULTITENANTAUTH } from "./tenant.js";
export type {
  AbortSignalLike,
  AccessToken,
  GetTokenOptions,
  TokenCredential,
  TracingContext,
} from "./token-credential.js";
export { type TokenProxyOptions, tokenProxyBaseUrl } from "./token-proxy.js";
export {
  DEFAULT_TOKEN_STORE_TIMEOUT_MS,
  type TokenStore,
  type TokenStoreOperationOptions,
} from "./token-store.js";
export {
  createTransport,
  type DestinationTls,
  type FetchLike,
  type HttpRequest,
  type HttpResponse,
  isRetryableTransportError,
  type Transport,
  type TransportOptions,
} from "./transport.js";
export { checkPathSegment, isLoopbackHostname } from "./url-safety.js";
