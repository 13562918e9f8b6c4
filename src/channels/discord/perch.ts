// Perch time and scheduled jobs are shared by the channels (src/channels/perch.ts).
export * from '../perch.ts';
