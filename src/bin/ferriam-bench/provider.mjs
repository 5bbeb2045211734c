// node-oidc-provider for ferriam-bench's peer comparison (written by ferriam-bench; edits are
// overwritten). One worker per core through node:cluster, client_credentials clients whose
// access tokens are JWTs for a default resource indicator, signed RS256 or ES256. With
// PEER_REDIS_URL set, every model lives in Redis (keys under PEER_REDIS_PREFIX), so the opaque
// userinfo access tokens that the first worker mints at start are valid in every worker; their
// values go on the ready line (the introspection pair introspects the same tokens). Without it
// the default in-memory adapter is used and none are minted.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const port = Number(process.env.PEER_PORT);
const keysFile = new URL('./keys.json', import.meta.url);
// What the userinfo tokens grant, and the web client they are issued to.
const USERINFO_SCOPE = 'openid profile email';
const WEB_CLIENT = 'bench-web';
// As many accounts as ferriam-bench seeds users (bench00, bench01, ...).
const ACCOUNTS = 16;
// Lifetime of the minted grants and tokens, in seconds: longer than any run.
const MINTED_TTL = 6 * 60 * 60;

if (cluster.isPrimary) {
  runPrimary();
} else {
  await runWorker();
}

function runPrimary() {
  if (!existsSync(keysFile)) {
    const jwk = (type, options, alg) => ({
      ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
      alg,
      use: 'sig',
      kid: alg.toLowerCase(),
    });
    const keys = [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ];
    writeFileSync(keysFile, JSON.stringify({ keys }));
  }
  const workers = Number(process.env.PEER_WORKERS) || availableParallelism();
  let ready = 0;
  let stopping = false;
  const line = { listen: `127.0.0.1:${port}`, workers };
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('message', (_worker, message) => {
    if (message?.ready !== true) return;
    ready += 1;
    // Only the first worker mints; its outcome goes on the ready line.
    if (message.userinfoTokens) line.userinfo_tokens = message.userinfoTokens;
    if (message.userinfoError) line.userinfo_error = message.userinfoError;
    if (ready === workers) console.log(JSON.stringify(line));
  });
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited with ${code}`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function runWorker() {
  const { default: Provider } = await import('oidc-provider');
  const redisUrl = process.env.PEER_REDIS_URL;
  const adapter = redisUrl
    ? await redisAdapter(redisUrl, process.env.PEER_REDIS_PREFIX || 'ferriam-bench:')
    : undefined;
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration(adapter));
  const ready = { ready: true };
  const wanted = Number(process.env.PEER_USERINFO_TOKENS) || 0;
  if (cluster.worker.id === 1 && wanted > 0) {
    if (!adapter) {
      ready.userinfoError = 'no shared store (PEER_REDIS_URL is not set)';
    } else {
      try {
        ready.userinfoTokens = await mintUserinfoTokens(provider, wanted);
      } catch (e) {
        ready.userinfoError = `minting userinfo tokens failed: ${e.message}`;
      }
    }
  }
  provider.listen(port, '127.0.0.1', () => process.send(ready));
  process.on('SIGTERM', () => process.exit(0));
}

// The provider's configuration; `adapter` undefined means the in-memory one.
function configuration(adapter) {
  const secret = process.env.PEER_CLIENT_SECRET;
  const ccClient = (alg) => ({
    client_id: `bench-cc-${alg}`,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const webClient = {
    client_id: WEB_CLIENT,
    client_secret: secret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [process.env.PEER_REDIRECT_URI || 'https://app.example/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  return {
    adapter,
    jwks: JSON.parse(readFileSync(keysFile, 'utf8')),
    cookies: { keys: [process.env.PEER_COOKIE_KEY] },
    clients: [ccClient('RS256'), ccClient('ES256'), webClient],
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    findAccount,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7662, for the introspection pair: the bench-cc clients act as resource servers.
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:ferriam-bench:api',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, requester) => ({
          scope: 'api:read',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: requester?.clientId?.endsWith('ES256') ? 'ES256' : 'RS256' } },
        }),
      },
    },
  };
}

// Accounts like the users ferriam-bench seeds in Ferriam, answered from memory.
function findAccount(_ctx, accountId) {
  return {
    accountId,
    claims: () => ({
      sub: accountId,
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      preferred_username: accountId,
      email: `${accountId}@example.com`,
      email_verified: true,
    }),
  };
}

// One opaque access token per userinfo task, each from its own grant, as the code flow would
// leave them: no resource indicator (so no audience, which the userinfo endpoint refuses).
async function mintUserinfoTokens(provider, count) {
  const client = await provider.Client.find(WEB_CLIENT);
  const tokens = [];
  for (let i = 0; i < count; i += 1) {
    const accountId = `bench${String(i % ACCOUNTS).padStart(2, '0')}`;
    const grant = new provider.Grant({ accountId, clientId: WEB_CLIENT, expiresIn: MINTED_TTL });
    grant.addOIDCScope(USERINFO_SCOPE);
    const grantId = await grant.save();
    const token = new provider.AccessToken({
      accountId,
      client,
      grantId,
      scope: USERINFO_SCOPE,
      gty: 'authorization_code',
      expiresIn: MINTED_TTL,
    });
    tokens.push(await token.save());
  }
  return tokens;
}

// An adapter class storing every model in Redis through ioredis. Each entry is a hash under
// `{prefix}{model}:{id}` with the JSON payload (and `consumed` once consumed), expiring with
// the entry; a list `{prefix}grant-tokens:{grantId}` holds the keys of a grant's tokens (for
// revokeByGrantId) and lives as long as the longest of them; `{prefix}{model}:uid:{uid}` and
// `{prefix}{model}:userCode:{code}` point to the id for findByUid and findByUserCode.
async function redisAdapter(url, prefix) {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', (e) => console.error(`redis: ${e.message}`));
  // Sets a key's expiry to ARGV[1] seconds unless it already lasts longer.
  redis.defineCommand('extendExpiry', {
    numberOfKeys: 1,
    lua: "if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end",
  });
  // Marks an existing entry consumed (never creates one).
  redis.defineCommand('consumeEntry', {
    numberOfKeys: 1,
    lua: "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'consumed', ARGV[1]) end",
  });
  const exec = async (transaction) => {
    for (const [error] of (await transaction.exec()) ?? []) {
      if (error) throw error;
    }
  };
  const grantKey = (grantId) => `${prefix}grant-tokens:${grantId}`;

  return class RedisAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${prefix}${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiry = expiresIn > 0 ? ['EX', expiresIn] : [];
      const tx = redis.multi().del(key).hset(key, 'payload', JSON.stringify(payload));
      if (expiresIn > 0) tx.expire(key, expiresIn);
      if (payload.grantId) {
        const list = grantKey(payload.grantId);
        tx.rpush(list, key);
        if (expiresIn > 0) tx.extendExpiry(list, expiresIn);
        else tx.persist(list);
      }
      if (payload.uid) tx.set(this.key(`uid:${payload.uid}`), id, ...expiry);
      if (payload.userCode) tx.set(this.key(`userCode:${payload.userCode}`), id, ...expiry);
      await exec(tx);
    }

    async find(id) {
      const [payload, consumed] = await redis.hmget(this.key(id), 'payload', 'consumed');
      if (!payload) return undefined;
      const entry = JSON.parse(payload);
      if (consumed) entry.consumed = Number(consumed);
      return entry;
    }

    async findByUid(uid) {
      const id = await redis.get(this.key(`uid:${uid}`));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await redis.get(this.key(`userCode:${userCode}`));
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await redis.consumeEntry(this.key(id), Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const list = grantKey(grantId);
      const keys = await redis.lrange(list, 0, -1);
      await redis.del(...keys, list);
    }
  };
}
