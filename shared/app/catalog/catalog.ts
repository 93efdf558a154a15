/**
 * Decision points and their action catalog: the admin use cases. Writes are conditional on the version read, so two
 * admins editing the same item cannot silently overwrite each other; the loser gets 409 and retries.
 */
import type { CatalogAction, DecisionPoint } from '../../core/domain.ts';
import { ConflictError, NotFoundError, ValidationError, VersionConflictError } from '../../core/errors.ts';
import { FeatureEncodingError } from '../../core/features/encode.ts';
import type { StateStore } from '../../core/ports.ts';
import {
  type ActionInput,
  actionIdSchema,
  type DecisionPointSettingsInput,
  decisionPointIdSchema,
  decisionPointSettingsSchema,
  describeZodError,
} from '../../core/schemas.ts';
import type { ModelCache } from '../decide/model-cache.ts';

export class CatalogService {
  constructor(
    private readonly store: StateStore,
    private readonly models: ModelCache,
    private readonly now: () => number = Date.now,
  ) {}

  async putDecisionPoint(name: string, input: DecisionPointSettingsInput): Promise<{ created: boolean; decisionPoint: DecisionPoint }> {
    checkId(decisionPointIdSchema, name, 'decision point');
    const parsed = decisionPointSettingsSchema.safeParse(input);
    if (!parsed.success) throw new ValidationError(`invalid settings: ${describeZodError(parsed.error)}`);
    const settings = parsed.data;
    const existing = await this.store.getDecisionPoint(name);
    if (existing && (existing.settings.contextDim !== settings.contextDim || existing.settings.actionDim !== settings.actionDim)) {
      const learned = (await this.store.listStats(name)).length > 0;
      if (learned) {
        throw new ConflictError(
          'contextDim and actionDim cannot change once the decision point has learned (its statistics have those dimensions); create a new decision point instead',
        );
      }
    }
    const t = this.now();
    const item: DecisionPoint = {
      decisionPoint: name,
      settings,
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
      version: (existing?.version ?? 0) + 1,
    };
    await this.write(() => this.store.putDecisionPoint(item, existing?.version));
    this.models.invalidate(name);
    return { created: !existing, decisionPoint: item };
  }

  async getDecisionPoint(name: string): Promise<DecisionPoint> {
    const dp = await this.store.getDecisionPoint(name);
    if (!dp) throw new NotFoundError(`decision point ${name} does not exist`);
    return dp;
  }

  listDecisionPoints(): Promise<DecisionPoint[]> {
    return this.store.listDecisionPoints();
  }

  async putAction(dpName: string, actionId: string, input: ActionInput): Promise<{ created: boolean; action: CatalogAction }> {
    checkId(actionIdSchema, actionId, 'action id');
    await this.getDecisionPoint(dpName);
    const existing = await this.store.getAction(dpName, actionId);
    const t = this.now();
    const action: CatalogAction = {
      decisionPoint: dpName,
      actionId,
      features: input.features,
      metadata: input.metadata,
      status: 'live',
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
      version: (existing?.version ?? 0) + 1,
    };
    await this.write(() => this.store.putAction(action, existing?.version));
    this.models.invalidate(dpName);
    return { created: !existing, action };
  }

  async retireAction(dpName: string, actionId: string): Promise<CatalogAction> {
    const existing = await this.getAction(dpName, actionId);
    if (existing.status === 'retired') return existing;
    // Retiring keeps the item and its statistics: the action may come back next season and resume where it was.
    const retired: CatalogAction = { ...existing, status: 'retired', updatedAt: this.now(), version: existing.version + 1 };
    await this.write(() => this.store.putAction(retired, existing.version));
    this.models.invalidate(dpName);
    return retired;
  }

  async getAction(dpName: string, actionId: string): Promise<CatalogAction> {
    const a = await this.store.getAction(dpName, actionId);
    if (!a) throw new NotFoundError(`action ${actionId} does not exist in decision point ${dpName}`);
    return a;
  }

  async listActions(dpName: string): Promise<CatalogAction[]> {
    await this.getDecisionPoint(dpName);
    return this.store.listActions(dpName);
  }

  private async write(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof VersionConflictError) throw new ConflictError('the item changed while it was being written; retry');
      if (err instanceof FeatureEncodingError) throw new ValidationError(err.message);
      throw err;
    }
  }
}

function checkId(schema: typeof decisionPointIdSchema, value: string, what: string): void {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
}
