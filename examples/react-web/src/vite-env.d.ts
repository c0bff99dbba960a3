/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_STREAM_API_KEY: string;
  readonly VITE_STREAM_TOKEN_SERVICE_URL: string;
  /** Where the session token comes from; Clerk when unset. */
  readonly VITE_AUTH_MODE?: 'clerk' | 'oidc' | 'dev';
  readonly VITE_CLERK_PUBLISHABLE_KEY: string;
  readonly VITE_OIDC_AUTHORITY: string;
  readonly VITE_OIDC_CLIENT_ID: string;
  /** Tests only: a local stand-in for Stream's API instead of Stream's own. */
  readonly VITE_STREAM_BASE_URL?: string;
  readonly VITE_STREAM_DEV_FALLBACK?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
