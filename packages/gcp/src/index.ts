export { DEFAULT_AUDIENCE } from "./exchange-audience.js";
export {
  fromGcpMetadata,
  GCE_METADATA_HOST,
  type GcpMetadataOptions,
} from "./from-gcp-metadata.js";
