export * from './claim-path.js';
export * from './profile.js';
export * from './clerk-org.js';
export * from './role-map.js';
export * from './policy-file.js';
export * from './evaluate.js';
export * from './clerk-user.js';
