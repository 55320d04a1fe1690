import { readFile } from 'node:fs/promises';
import type { RecordConfig } from '../config/types';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import type * as RecorderModule from './recorder';
import type { Recorder, RecorderOptions } from './recorder';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the recorder's modules load only when recording (D77)
const loadRecorder = (): typeof RecorderModule => require('./recorder') as typeof RecorderModule;

/**
 * Opens the recorder a `record` configuration asks for (the gateway's and the proxy's). Never
 * rejects: a file that cannot be opened (or an unreadable key file) is logged at error with
 * `TUNNEL_REPLAY_IO` and the process runs without recording — recording never stops traffic.
 */
export async function openConfiguredRecorder(config: RecordConfig, side: RecorderOptions['side'], logger: Logger): Promise<Recorder | undefined> {
  try {
    const key = config.hmacKeyFile === null ? undefined : (await readFile(config.hmacKeyFile)).toString('utf8').replace(/\s+$/, '');
    const recorder = await loadRecorder().Recorder.open({
      file: config.file,
      side,
      ...(config.servers === null ? {} : { servers: config.servers }),
      maxFileBytes: config.maxFileBytes,
      queueLimitBytes: config.queueBytes,
      redaction: { ...config.redact, ...(key === undefined ? {} : { key }) },
      logger,
    });
    logger.info({ [F.component]: 'recorder', file: config.file, servers: config.servers ?? 'all' }, 'recording traffic');
    return recorder;
  } catch (err) {
    logger.error({ [F.component]: 'recorder', [F.code]: 'TUNNEL_REPLAY_IO', [F.err]: describeError(err), file: config.file }, 'cannot open the recording file; not recording');
    return undefined;
  }
}
