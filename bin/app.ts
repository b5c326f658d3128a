#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs it through tsx). Configuration is
 * CDK context (`vista:*` keys in cdk.json, `-c vista:<key>=<value>` to override; see
 * lib/infra/config.ts). cdk-nag's AWS Solutions pack validates every synth: an unacknowledged
 * finding fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readInfraConfig } from '../lib/infra/config';
import { addVistaStacks } from '../lib/infra/vista-app';

const app = new App();
const config = readInfraConfig(app);
// The backfill stack and the real-time path's stack (lib/infra/vista-app.ts).
addVistaStacks(app, config);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
