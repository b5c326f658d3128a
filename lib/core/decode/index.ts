export { makeDecoder, parseDecoderConfig, DecoderConfigSchema } from './decoder';
export type { Decoder, DecoderConfig, DecoderConfigInput } from './decoder';
export { sniffFormat } from './format-sniff';
export type { SniffResult, RefusedFormat } from './format-sniff';
