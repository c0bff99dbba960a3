/**
 * A typical first implementation of the same exchange, kept as the
 * comparison point: Express, `jwks-rsa` for the provider's keys,
 * `jsonwebtoken` to verify the session token, and the `stream-chat` SDK's
 * `createToken` to mint the Stream token. Written the way the providers'
 * and Stream's guides show it; deliberately not tuned.
 */
import express from 'express';
import jwt, { type JwtHeader, type JwtPayload, type SigningKeyCallback } from 'jsonwebtoken';
import jwksClient from 'jwks-rsa';
import { StreamChat } from 'stream-chat';

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const ISSUER = process.env.CLERK_JWT_ISSUER!;
const STREAM_API_KEY = process.env.STREAM_API_KEY!;
const STREAM_API_SECRET = process.env.STREAM_API_SECRET!;

const app = express();
app.use(express.json());

const client = jwksClient({
  jwksUri: `${ISSUER}/.well-known/jwks.json`,
  cache: true,
  rateLimit: true,
});

const serverClient = StreamChat.getInstance(STREAM_API_KEY, STREAM_API_SECRET);

function getKey(header: JwtHeader, callback: SigningKeyCallback) {
  client.getSigningKey(header.kid, (err, key) => {
    if (err) return callback(err);
    callback(null, key?.getPublicKey());
  });
}

app.post('/stream/token', (req, res) => {
  const authHeader = req.headers.authorization;
  if (!authHeader || !authHeader.startsWith('Bearer ')) {
    res.status(401).json({ error: 'Missing token' });
    return;
  }
  const token = authHeader.split(' ')[1]!;

  jwt.verify(token, getKey, { algorithms: ['RS256'], issuer: ISSUER }, (err, decoded) => {
    if (err || !decoded) {
      res.status(401).json({ error: 'Invalid token' });
      return;
    }
    const userId = (decoded as JwtPayload).sub!;
    const exp = Math.floor(Date.now() / 1000) + 60 * 60;
    const streamToken = serverClient.createToken(userId, exp);
    res.json({
      token: streamToken,
      user_id: userId,
      api_key: STREAM_API_KEY,
      expires_in: 60 * 60,
      expires_at: new Date(exp * 1000).toISOString(),
    });
  });
});

const server = app.listen(PORT, HOST);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
