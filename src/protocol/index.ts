export * from './codes';
export * from './frame';
export * from './messages';
export { ProtocolError } from './errors';
