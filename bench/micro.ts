/**
 * Micro-benchmark of the per-request work of POST /stream/token: the real
 * SessionVerifier.verify, then TokenExchange.issue (access policy, removed-user
 * check, StreamTokenMinter.mint) and serialisation with the route's response
 * schema (fast-json-stringify, as Fastify does), configured as in
 * production with user sync off, against the bare node:crypto floor of one RS256
 * verify with a cached KeyObject plus one HMAC-SHA256, on the same tokens.
 * Variants run in interleaved rounds so machine noise hits all of them alike;
 * ratios are taken within a round, then the median across rounds.
 *
 *   npx tsx bench/micro.ts        (or npm run bench -- --micro)
 */
import { createHmac, createSecretKey, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import fastJson from 'fast-json-stringify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { StreamChat } from 'stream-chat';
import { loadConfig } from '../src/config/index.js';
import { TokenExchange } from '../src/exchange/token-exchange.js';
import { tokenResponseSchema } from '../src/http/routes/token.js';
import { parseCompactJws, readCompactJws, splitCompactJws } from '../src/identity/jws.js';
import { SessionVerifier } from '../src/identity/session-verifier.js';
import { compilePolicy } from '../src/policy/index.js';
import { MemorySyncStore } from '../src/state/sync-store.js';
import { StreamTokenMinter } from '../src/stream/token-minter.js';
import { AUTHORIZED_PARTY, startBenchIssuer } from './lib/issuer.js';
import { fmt, fmtRatio, fmtRatioRange, median, percentile, table } from './lib/stats.js';
import { signSessionTokens } from './lib/tokens.js';

export interface MicroOptions {
  /** Distinct users' tokens per round. */
  tokens: number;
  /** Measured rounds (after warm-up rounds). */
  rounds: number;
  log?: (line: string) => void;
}

export interface MicroVariantResult {
  name: string;
  description: string;
  /** Median microseconds per operation across rounds. */
  microsPerOp: number;
  /** Median across rounds of (this variant ÷ floor) in the same round. */
  ratioToFloor: number;
  /** First and third quartiles of those per-round ratios: how much the machine moved them. */
  ratioQuartiles: { min: number; max: number };
  opsPerRound: number;
}

export interface MicroResult {
  tokens: number;
  rounds: number;
  variants: MicroVariantResult[];
  /** The headline: per-request work ÷ node:crypto floor, one request at a time. */
  serviceToFloor: number;
  /** The same with 50 requests in flight, verified in batches as the HTTP server does under load. */
  batchedToFloor: number;
  target: number;
  pass: boolean;
}

interface Variant {
  name: string;
  description: string;
  /** Fraction of the tokens each round uses (slow third-party variants use fewer). */
  share: number;
  run(from: number, to: number): Promise<void> | void;
}

export const MICRO_TARGET = 1.3;

export async function runMicro(options: MicroOptions): Promise<MicroResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const issuer = await startBenchIssuer();
  try {
    const apiSecret = randomBytes(32).toString('hex');
    const set = await signSessionTokens(issuer, { first: 900_000, count: options.tokens, ttlSeconds: 3 * 3600 });
    const tokens = set.tokens;
    const n = tokens.length;

    // The service's own objects, configured by the real configuration loader.
    const config = loadConfig({
      env: {
        NODE_ENV: 'production',
        STREAM_API_KEY: 'bench_api_key',
        STREAM_API_SECRET: apiSecret,
        CLERK_JWT_ISSUER: issuer.issuer,
        CLERK_AUTHORIZED_PARTIES: AUTHORIZED_PARTY,
        STREAM_SYNC_USERS: 'false',
      },
      cwd: tmpdir(),
    });
    const verifierOptions = {
      issuers: config.identity.issuers,
      keySetTiming: config.identity.keySetTiming,
      clockSkewSeconds: config.identity.clockSkewSeconds,
    };
    const verifier = new SessionVerifier(verifierOptions);
    await verifier.start();
    if (!verifier.isReady()) throw new Error('the verifier did not load the bench issuer keys');
    const batchVerifier = new SessionVerifier({ ...verifierOptions, batch: true });
    await batchVerifier.start();
    const minter = new StreamTokenMinter({ apiSecret: config.stream.apiSecret.reveal(), ttlSeconds: config.stream.tokenTtlSeconds });
    // As buildApp wires it with STREAM_SYNC_USERS=false: no Stream call on the request path.
    const exchange = new TokenExchange({
      minter,
      apiKey: config.stream.apiKey,
      policy: compilePolicy({ ...(config.policy.document !== null ? { document: config.policy.document } : {}), roleMap: config.policy.roleMap }),
      store: new MemorySyncStore(),
      streamUsers: null,
      syncOnIssue: config.sync.enabled,
      failureMode: config.sync.failureMode,
    });

    const sessions = await Promise.all(tokens.map((token) => verifier.verify(token)));
    // The route's own response serialiser: Fastify compiles the same schema with fast-json-stringify.
    const serialise = fastJson({ ...tokenResponseSchema, required: [...tokenResponseSchema.required] });

    // The floor's inputs, split ahead of time: it does nothing but the two primitives.
    const publicKey = issuer.publicKey;
    const hmacKey = createSecretKey(Buffer.from(apiSecret, 'utf8'));
    const split = tokens.map((token) => {
      const dot = token.lastIndexOf('.');
      return { input: Buffer.from(token.slice(0, dot)), signature: Buffer.from(token.slice(dot + 1), 'base64url') };
    });
    const streamInputs = set.userIds.map((userId) => minter.mint(userId).token.split('.').slice(0, 2).join('.'));

    // Context: what the usual libraries cost for the same steps.
    const streamClient = new StreamChat('bench_api_key', apiSecret);
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const jwks = createLocalJWKSet({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: issuer.kid, alg: 'RS256', use: 'sig' }] });
    const exp = Math.floor(Date.now() / 1000) + 3600;

    let sink = 0;
    const variants: Variant[] = [
      {
        name: 'floor',
        description: 'crypto.verify RS256 (cached KeyObject) + HMAC-SHA256',
        share: 1,
        run(from, to) {
          for (let i = from; i < to; i++) {
            const t = split[i]!;
            if (!cryptoVerify('sha256', t.input, publicKey, t.signature)) throw new Error('floor: bad signature');
            sink += createHmac('sha256', hmacKey).update(streamInputs[i]!).digest().length;
          }
        },
      },
      {
        name: 'service',
        description: "SessionVerifier.verify + TokenExchange.issue (policy, removed check, mint) + the route's response serialiser",
        share: 1,
        async run(from, to) {
          for (let i = from; i < to; i++) sink += serialise(await exchange.issue(await verifier.verify(tokens[i]!))).length;
        },
      },
      {
        name: 'service, 50 in flight',
        description: 'as service, 50 requests at a time, the verifier in batch mode as the HTTP server runs it',
        share: 1,
        async run(from, to) {
          const one = async (token: string) => {
            sink += serialise(await exchange.issue(await batchVerifier.verify(token))).length;
          };
          for (let i = from; i < to; i += 50) {
            const flight: Promise<void>[] = [];
            for (let j = i; j < Math.min(to, i + 50); j++) flight.push(one(tokens[j]!));
            await Promise.all(flight);
          }
        },
      },
      {
        name: 'verify',
        description: 'SessionVerifier.verify alone',
        share: 1,
        async run(from, to) {
          for (let i = from; i < to; i++) sink += (await verifier.verify(tokens[i]!)).expiresAt;
        },
      },
      {
        name: 'issue + serialise',
        description: "TokenExchange.issue on an already verified session + the route's response serialiser",
        share: 1,
        async run(from, to) {
          for (let i = from; i < to; i++) sink += serialise(await exchange.issue(sessions[i]!)).length;
        },
      },
      {
        name: 'parse',
        description: 'parseCompactJws alone (public API: text checks, header and payload JSON, owned buffers)',
        share: 1,
        run(from, to) {
          for (let i = from; i < to; i++) sink += parseCompactJws(tokens[i]!).signature.length;
        },
      },
      {
        name: 'parse, as verify does',
        description: 'text checks + payload JSON with the header segment remembered (splitCompactJws + readCompactJws), as verify reads a token',
        share: 1,
        run(from, to) {
          for (let i = from; i < to; i++) {
            const token = tokens[i]!;
            sink += readCompactJws(token, splitCompactJws(token), token.lastIndexOf('.'), true).payload.exp as number;
          }
        },
      },
      {
        name: 'mint',
        description: 'StreamTokenMinter.mint alone',
        share: 1,
        run(from, to) {
          for (let i = from; i < to; i++) sink += minter.mint(set.userIds[i]!).token.length;
        },
      },
      {
        name: 'stream-chat createToken',
        description: 'new StreamChat(key, secret).createToken(userId, exp)',
        share: 0.2,
        run(from, to) {
          for (let i = from; i < to; i++) sink += streamClient.createToken(set.userIds[i]!, exp).length;
        },
      },
      {
        name: 'jsonwebtoken.verify',
        description: 'jsonwebtoken.verify(token, PEM) as jwks-rsa hands it over',
        share: 0.2,
        run(from, to) {
          for (let i = from; i < to; i++) {
            const payload = jsonwebtoken.verify(tokens[i]!, pem, { algorithms: ['RS256'], issuer: issuer.issuer });
            sink += typeof payload === 'string' ? 0 : 1;
          }
        },
      },
      {
        name: 'jose jwtVerify',
        description: 'jose jwtVerify with a local JWKS (cached keys)',
        share: 0.2,
        async run(from, to) {
          for (let i = from; i < to; i++) {
            sink += (await jwtVerify(tokens[i]!, jwks, { algorithms: ['RS256'], issuer: issuer.issuer })).payload.exp ?? 0;
          }
        },
      },
    ];

    const warmupRounds = Math.max(3, Math.ceil(options.rounds / 8));
    const perRound = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const ratios = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    log(`micro: ${n} distinct users' tokens, ${warmupRounds} warm-up + ${options.rounds} measured rounds, variants interleaved`);
    for (let round = 0; round < warmupRounds + options.rounds; round++) {
      // Rotate and alternate the order so no variant always runs first or after the same neighbour.
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      if (round % 2 === 1) order.reverse();
      const timings = new Map<string, number>();
      for (const variant of order) {
        const count = Math.max(1, Math.floor(n * variant.share));
        // Slow variants take a different slice each round so every token is used.
        const from = variant.share < 1 ? (round * count) % (n - count + 1) : 0;
        const started = process.hrtime.bigint();
        await variant.run(from, from + count);
        timings.set(variant.name, Number(process.hrtime.bigint() - started) / 1000 / count);
      }
      if (round < warmupRounds) continue;
      const floor = timings.get('floor')!;
      for (const [name, micros] of timings) {
        perRound.get(name)!.push(micros);
        ratios.get(name)!.push(micros / floor);
      }
    }
    if (sink === 0) log('(unreachable)');
    verifier.close();
    batchVerifier.close();

    const results: MicroVariantResult[] = variants.map((v) => ({
      name: v.name,
      description: v.description,
      microsPerOp: median(perRound.get(v.name)!),
      ratioToFloor: median(ratios.get(v.name)!),
      ratioQuartiles: quartiles(ratios.get(v.name)!),
      opsPerRound: Math.max(1, Math.floor(n * v.share)),
    }));
    const serviceToFloor = results.find((r) => r.name === 'service')!.ratioToFloor;
    const batchedToFloor = results.find((r) => r.name === 'service, 50 in flight')!.ratioToFloor;
    return { tokens: n, rounds: options.rounds, variants: results, serviceToFloor, batchedToFloor, target: MICRO_TARGET, pass: serviceToFloor <= MICRO_TARGET };
  } finally {
    await issuer.close();
  }
}

function quartiles(values: readonly number[]): { min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: percentile(sorted, 0.25), max: percentile(sorted, 0.75) };
}

export function printMicro(result: MicroResult, log: (line: string) => void = console.log): void {
  const rows = [
    ['per-request work', 'µs/op (median)', '× floor', 'rounds, middle half'],
    ...result.variants.map((v) => [v.name, fmt(v.microsPerOp, 1), fmtRatio(v.ratioToFloor), v.name === 'floor' ? '' : fmtRatioRange(v.ratioQuartiles)]),
  ];
  log(table(rows));
  log(
    `micro: service ÷ floor = ${fmtRatio(result.serviceToFloor)} one at a time (target ≤ ${result.target}×) ${result.pass ? 'PASS' : 'MISS'}; ` +
      `${fmtRatio(result.batchedToFloor)} with 50 in flight`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runMicro({ tokens: Number(process.env.BENCH_MICRO_TOKENS ?? 1000), rounds: Number(process.env.BENCH_MICRO_ROUNDS ?? 40) });
  printMicro(result);
}
