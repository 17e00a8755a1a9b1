/** cluster-key-slot (used by ioredis): the Redis Cluster hash slot of a key, tags honoured. */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string): number;
}
