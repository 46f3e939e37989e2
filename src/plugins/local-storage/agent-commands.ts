// The wire contract lives in contracts/ (the host agent answers it too); re-exported for this plugin's files.
export * from '../../contracts/local-storage-agent.ts';
