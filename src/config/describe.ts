import type { ServiceConfig } from './types.js';

/** The resolved configuration as plain data for `check-config` and start-up logs; secrets show only whether they are set. */
export function describeConfig(config: ServiceConfig): Record<string, unknown> {
  return {
    mode: config.devMode ? 'development (DEV_MODE)' : 'production',
    http: config.http,
    log: config.log,
    stream: {
      apiKey: config.stream.apiKey,
      apiSecret: config.stream.apiSecret.reveal() === '' ? 'not set' : 'set',
      placeholderCredentials: config.stream.placeholderCredentials,
      tokenTtlSeconds: config.stream.tokenTtlSeconds,
      baseUrl: config.stream.baseUrl ?? 'Stream default',
      timeoutMs: config.stream.timeoutMs,
      maxConcurrency: config.stream.maxConcurrency,
      queueTimeoutMs: config.stream.queueTimeoutMs,
    },
    issuers: config.identity.issuers.map((i) => ({
      kind: i.kind,
      issuer: i.issuer,
      keys: i.staticKeys !== undefined && i.staticKeys.length > 0 ? 'static PEM key' : (i.jwksUri ?? 'OIDC discovery'),
      algorithms: i.algorithms,
      audience: i.audience ?? (i.kind === 'oidc' ? 'any (audience check off: "*")' : null),
      userIdClaim: i.userIdClaim,
      userIdPrefix: (i.userIdPrefix ?? '') + (i.subjectPrefix ?? ''),
      authorizedParties: i.authorizedParties,
      requireAuthorizedParty: i.requireAuthorizedParty,
      ...(i.kind === 'oidc' ? { tokenTypes: i.tokenTypes ?? 'JWT, at+jwt or none', allowMachineTokens: i.allowMachineTokens === true } : {}),
      allowImpersonation: i.allowImpersonation,
    })),
    warnings: config.identity.anyAudience.map((issuer) => `${issuer} accepts tokens for any audience ("audience": "*")`),
    devIssuer: config.devMode ? config.dev.issuer : null,
    devModeAllowNetwork: config.devMode ? config.dev.allowNetwork : undefined,
    keySetTiming: config.identity.keySetTiming,
    clockSkewSeconds: config.identity.clockSkewSeconds,
    clerk: {
      secretKey: config.clerk.secretKey === null ? 'not set' : 'set',
      apiUrl: config.clerk.apiUrl,
      webhookSecret: config.clerk.webhookSecret === null ? 'not set' : 'set',
    },
    sync: config.sync,
    policy: { roleMap: config.policy.roleMapSource, policyFile: config.policy.policyFile },
    rateLimit: config.rateLimit,
    removedUsers: config.removedUsers,
    redis: config.redisUrl === null ? 'not set (in-memory state)' : 'set',
    metrics: config.metrics,
    webConcurrency: config.webConcurrency,
  };
}
