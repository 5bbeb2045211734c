// node-oidc-provider (npm `oidc-provider`) as an upstream for Ferriam's federation tests: one
// confidential client (Ferriam), accounts for any login through the package's development
// sign-in pages, and a profile and verified email per account (released at userinfo; the ID
// token carries only `sub`, as the package does by default when an access token is issued).
// Usage: node oidc_provider.mjs CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Prints {"issuer": ...} once it listens on 127.0.0.1 on a free port.
import http from 'node:http';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri] = process.argv.slice(2);
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'given_name', 'family_name'],
    },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@partner.example`,
            email_verified: true,
            preferred_username: id,
            given_name: 'Pat',
            family_name: 'Partner',
          };
        },
      };
    },
    cookies: { keys: ['a-test-only-cookie-signing-key'] },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
