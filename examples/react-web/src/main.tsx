// src/main.tsx
import 'stream-chat-react/css/index.css';
import './app.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ClerkApp } from './clerk-app';
import { DevApp } from './dev-app';
import { OidcApp } from './oidc-app';

// Where session tokens come from, fixed at build time: Clerk unless VITE_AUTH_MODE says otherwise.
const mode = import.meta.env.VITE_AUTH_MODE;
const App = mode === 'dev' ? DevApp : mode === 'oidc' ? OidcApp : ClerkApp;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
