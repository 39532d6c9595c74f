/** Errors of the AWS front door (authentication, routing), with the code and status AWS uses. */
import { Ec2RequestError } from '../../../core/errors.js';

export class AwsAuthError extends Ec2RequestError {}
