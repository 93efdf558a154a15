/**
 * A WAF web ACL in front of the API stage, so abuse by one caller does not starve the others. Three layers, cheapest
 * first (the README says what each limit protects):
 *
 * 1. Per source IP: at most `perIpLimit` requests in any 5 minutes from one address, whatever key they carry. It
 *    bounds floods that carry no key or random keys (each would still cost an invocation and a key lookup) and one
 *    address spraying many keys.
 * 2. Per API key (the `x-api-key` header): at most `perKeyLimit` requests in any 5 minutes, all containers together:
 *    well below the stage throttle by default, so one key (a leaked one, a client in a loop) can take only part of
 *    the stage. The engine's own per-key bucket (shared/app/rate-limit.ts) is per container and configurable per key;
 *    this is the fleet-wide ceiling for every key. A request without the header is not counted here (layer 1 is).
 * 3. The AWS managed common rule set (known exploit patterns, bad inputs), except its 8 KB body-size rule, which is
 *    only counted: the engine accepts bodies up to 256 KB (event batches, action imports) and enforces that limit
 *    itself.
 *
 * Blocked requests get the engine's error body with 429 (rate rules) or WAF's 403 (managed rules). Sampled requests are
 * off and the web ACL has no logging configuration: both would show the `x-api-key` header, a secret. Enable logging
 * only with that header redacted.
 */
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The API key header the engine authenticates with (and the per-key rule aggregates on). */
export const API_KEY_HEADER = 'x-api-key';
/** Rate-based rules count over this window (WAF allows 60, 120, 300 or 600 s). */
export const WAF_WINDOW_SECONDS = 300;

export interface ApiProtectionProps {
  stage: Stage;
  /** Requests one API key may send in any 5 minutes, fleet-wide. */
  perKeyLimit: number;
  /** Requests one source address may send in any 5 minutes. */
  perIpLimit: number;
}

export class ApiProtection extends Construct {
  readonly webAcl: CfnWebACL;
  readonly association: CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: ApiProtectionProps) {
    super(scope, id);
    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      // Samples would show request headers, the API key among them.
      sampledRequestsEnabled: false,
    });
    const tooMany = {
      block: { customResponse: { responseCode: 429, customResponseBodyKey: 'tooManyRequests' } },
    };
    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('NbaEngineApi'),
      customResponseBodies: {
        tooManyRequests: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            error: {
              code: 'too_many_requests',
              message: `too many requests from this API key or address in ${WAF_WINDOW_SECONDS / 60} minutes; retry later`,
            },
          }),
        },
      },
      rules: [
        {
          name: 'PerSourceIpRate',
          priority: 0,
          action: tooMany,
          statement: {
            rateBasedStatement: {
              limit: props.perIpLimit,
              evaluationWindowSec: WAF_WINDOW_SECONDS,
              aggregateKeyType: 'IP',
            },
          },
          visibilityConfig: visibility('PerSourceIpRate'),
        },
        {
          name: 'PerApiKeyRate',
          priority: 1,
          action: tooMany,
          statement: {
            rateBasedStatement: {
              limit: props.perKeyLimit,
              evaluationWindowSec: WAF_WINDOW_SECONDS,
              aggregateKeyType: 'CUSTOM_KEYS',
              customKeys: [{ header: { name: API_KEY_HEADER, textTransformations: [{ priority: 0, type: 'NONE' }] } }],
            },
          },
          visibilityConfig: visibility('PerApiKeyRate'),
        },
        {
          name: 'AwsCommonRuleSet',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility('AwsCommonRuleSet'),
        },
      ],
    });
    this.association = new CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
