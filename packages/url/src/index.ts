export { type FromUrlOptions, fromUrl } from "./from-url.js";
