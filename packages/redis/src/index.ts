export {
  type RedisTokenStore,
  type RedisTokenStoreOptions,
  redisTokenStore,
} from "./redis-token-store.js";
