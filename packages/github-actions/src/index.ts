export {
  ACTIONS_ID_TOKEN_REQUEST_TOKEN,
  ACTIONS_ID_TOKEN_REQUEST_URL,
  type FromGitHubActionsOptions,
  fromGitHubActions,
} from "./from-github-actions.js";
