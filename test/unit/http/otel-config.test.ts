import { describe, expect, it } from 'vitest';
import { errorType, tracesWanted } from '../../../src/telemetry/otel.js';

/** Tracing starts only when the standard variables ask for a traces exporter; OTEL_SDK_DISABLED wins. */
describe('tracesWanted', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, false],
    [{ OTEL_SDK_DISABLED: ' TRUE ', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    [{ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
  ] as Array<[NodeJS.ProcessEnv, boolean]>)('%o → %s', (env, wanted) => expect(tracesWanted(env)).toBe(wanted));
});

describe('errorType', () => {
  it('prefers a code, then the class name', () => {
    expect(errorType(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType(undefined)).toBe('_OTHER');
  });
});
