export {
  AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
  type FromAzurePipelinesOptions,
  fromAzurePipelines,
  SYSTEM_ACCESSTOKEN,
  SYSTEM_OIDCREQUESTURI,
} from "./from-azure-pipelines.js";
