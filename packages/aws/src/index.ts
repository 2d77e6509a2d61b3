export type { StsClientLike } from "./client-sts.js";
export {
  type AwsWebIdentityTokenOptions,
  fromAwsWebIdentityToken,
} from "./web-identity-token.js";
