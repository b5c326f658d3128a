/**
 * The explorer page's users: a Cognito user pool (administrators create the accounts: no self
 * sign-up), MFA by authenticator app, and a public app client for the page (authorization code
 * with PKCE through Cognito's hosted sign-in; no client secret, which a browser could not keep).
 * The query API's JWT authorizer accepts this client's ID tokens.
 */
import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';

export type ExplorerUsersConfig = Pick<InfraConfig, 'explorerAuthDomainPrefix'>;

export interface ExplorerUsersProps {
  readonly config: ExplorerUsersConfig;
  /** Where Cognito sends users back after signing in (and out): the page's URL, ending in "/". */
  readonly pageUrl: string;
}

export function authDomainPrefix(config: ExplorerUsersConfig): string {
  return config.explorerAuthDomainPrefix ?? `vista-explorer-${Aws.ACCOUNT_ID}`;
}

/** The hosted sign-in's host name, known from the configuration alone (before the pool exists). */
export function authDomainName(scope: Construct, config: ExplorerUsersConfig): string {
  return `${authDomainPrefix(config)}.auth.${Stack.of(scope).region}.amazoncognito.com`;
}

/** How long a signed-in page session lasts before the user signs in again. */
export const ID_TOKEN_VALIDITY = Duration.hours(1);

export class ExplorerUsers extends Construct {
  readonly userPool: cognito.UserPool;
  /** The page's client: the audience the JWT authorizer checks. */
  readonly pageClient: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  /** `<prefix>.auth.<region>.amazoncognito.com`: known before deployment (the page's CSP names it). */
  readonly domainName: string;

  constructor(scope: Construct, id: string, props: ExplorerUsersProps) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // An internal catalog: accounts are created by an administrator (docs/deploy.md).
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      // Threat protection (compromised credentials, risky sign-ins) needs the Plus plan, billed per
      // monthly active user: a few cents for a team.
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.pageClient = this.userPool.addClient('PageClient', {
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
        callbackUrls: [props.pageUrl],
        logoutUrls: [props.pageUrl],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      idTokenValidity: ID_TOKEN_VALIDITY,
      accessTokenValidity: ID_TOKEN_VALIDITY,
      refreshTokenValidity: Duration.hours(12),
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });

    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: authDomainPrefix(props.config) } });
    this.domainName = authDomainName(this, props.config);
  }

  /** `https://cognito-idp.<region>.amazonaws.com/<pool id>`: the issuer of the tokens. */
  get issuerUrl(): string {
    return `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
  }
}
