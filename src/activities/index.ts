export * from './create-activities.js';
export * from './docker-activities.js';
