export * from './codes';
export * from './frame';
export * from './messages';
export * from './control';
export { ProtocolError, HeaderProtocolError, TooLargeError, closeCodeOf, wireCodeOf } from './errors';
