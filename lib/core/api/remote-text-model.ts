/**
 * The query API's text tower when it runs elsewhere: the inference endpoint embeds the search
 * text (docs/api.md, "Text embedding: CPU or endpoint"). A vector from another model than the
 * store's would rank nonsense, so each answer's model id is checked against the store's manifest;
 * a mismatch is STORE_MODEL_MISMATCH, an unreachable endpoint MODEL_UNAVAILABLE. The handler
 * answers either with the full-text ranking alone and logs why.
 */
import { SystemErrorCode, VistaError } from '../errors';
import type { TextInferenceClient } from '../serving/inference-client';
import { type EnrichErrorBody, textEmbedResultSchema } from '../serving/protocol';
import type { ClipModel } from '../types';

export type TextModel = Pick<ClipModel, 'embedTexts'>;

export interface RemoteTextModelOptions {
  /** The store's model (its manifest's model_id); absent: any model is taken (a store not loaded yet). */
  storeModelId?: string;
  /** Per text: the Lambda must still answer after the endpoint gives up. @default 3000 */
  timeoutMs?: number;
}

export function remoteTextModel(client: TextInferenceClient, options: RemoteTextModelOptions = {}): TextModel {
  const timeoutMs = options.timeoutMs ?? 3000;
  const embedOne = async (text: string): Promise<Float32Array> => {
    const answer = await client.embedText(text, { timeoutMs });
    const parsed = textEmbedResultSchema.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success) {
      const error = (answer.body as EnrichErrorBody).error;
      throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, `inference endpoint did not embed the text: ${answer.status} ${error?.code ?? ''} ${error?.message ?? 'unexpected answer'}`.trim());
    }
    if (options.storeModelId !== undefined && parsed.data.model_id !== options.storeModelId) {
      throw new VistaError(
        SystemErrorCode.STORE_MODEL_MISMATCH,
        `the inference endpoint runs ${parsed.data.model_id}, the store holds embeddings of ${options.storeModelId}: its text vectors cannot rank this store`,
      );
    }
    return Float32Array.from(parsed.data.embedding);
  };
  return { embedTexts: (texts) => Promise.all(texts.map(embedOne)) };
}
