export { Multiplexer, REPLY_BACKLOG_SLACK_BYTES, type MultiplexerOptions, type IncomingStream, type CloseInfo, type GoAwayInfo } from './multiplexer';
export { MuxStream } from './stream';
export { ReceiveWindow, SendWindow } from './flow';
export { StreamResetError, ConnectionClosedError, StreamRefusedError, BadResponseHeadError, StreamProtocolError } from './errors';
export { createLinkedTransportPair, type FrameTransport, type TransportHandler } from './transport';
export { discardIncoming, DEFAULT_DISCARD_BUDGET, type DiscardBudget, type DiscardResult } from './discard';
export { drain, type Drainable, type DrainOptions, type DrainResult } from './drain';
export { growableStreamWindow, STREAM_WINDOW_GROWTH } from './core';
