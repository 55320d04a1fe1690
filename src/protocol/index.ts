export * from './codes';
export * from './frame';
export * from './messages';
export * from './control';
export { ProtocolError, HeaderProtocolError } from './errors';
