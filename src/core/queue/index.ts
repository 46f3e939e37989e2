export { WorkQueues, type SubmitOptions, type WorkQueueStats } from './work-queues.ts';
