// node-oidc-provider for ferriam-bench's peer comparison (written by ferriam-bench; edits are
// overwritten). One worker per core through node:cluster, client_credentials clients whose
// access tokens are JWTs for a default resource indicator, signed RS256 or ES256.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const port = Number(process.env.PEER_PORT);
const keysFile = new URL('./keys.json', import.meta.url);

if (cluster.isPrimary) {
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
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('message', (_worker, message) => {
    ready += message === 'ready' ? 1 : 0;
    if (message === 'ready' && ready === workers) {
      console.log(JSON.stringify({ listen: `127.0.0.1:${port}`, workers }));
    }
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
} else {
  const { default: Provider } = await import('oidc-provider');
  const jwks = JSON.parse(readFileSync(keysFile, 'utf8'));
  const secret = process.env.PEER_CLIENT_SECRET;
  const client = (alg) => ({
    client_id: `bench-cc-${alg}`,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    jwks,
    cookies: { keys: [process.env.PEER_COOKIE_KEY] },
    clients: [client('RS256'), client('ES256')],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
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
  });
  provider.listen(port, '127.0.0.1', () => process.send('ready'));
  process.on('SIGTERM', () => process.exit(0));
}
