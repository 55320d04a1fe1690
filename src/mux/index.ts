export { Multiplexer, type MultiplexerOptions, type IncomingStream, type CloseInfo, type GoAwayInfo } from './multiplexer';
export { MuxStream } from './stream';
export { ReceiveWindow, SendWindow } from './flow';
export { StreamResetError, ConnectionClosedError, StreamRefusedError } from './errors';
export { wsTransport, createLinkedTransportPair, type FrameTransport, type TransportHandler } from './transport';
