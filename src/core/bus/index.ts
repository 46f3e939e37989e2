export * from './context.ts';
export { Bus, type BusOptions } from './bus.ts';
export { serviceFromHandlers, type Message, type Reply, type BusEvent, type EventListener, type ServiceDefinition, type Interceptor, type SendOptions } from './message.ts';
export { HashRing, murmur3 } from './ring.ts';
export { BUS_MESSAGES_PATH, BUS_EVENTS_PATH, BUS_TOKEN_HEADER, type Peer, type Transport, type WireMessage, type WireEvent } from './transport.ts';
export { HttpTransport, type HttpTransportOptions } from './http-transport.ts';
export { createBusHttpEndpoint, createBusRequestListener, type BusHttpEndpoint } from './http-endpoint.ts';
export { createLoggingInterceptor } from './logging-interceptor.ts';
