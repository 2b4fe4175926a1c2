/**
 * API tokens of `cns serve`: minting (the secret is returned once and only its SHA-256 is stored),
 * and looking a presented secret up. Used by `cns token …` (CLI) and `/api/tokens` (HTTP). Tokens
 * are kept through the coordinator (its token methods).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Coordinator } from '../coordinator/coordinator.js';
import { InvalidInputError } from '../core/errors.js';
import type { TokenRecord, TokenRole } from '../core/types.js';

/** Every secret starts with this, so that a leaked one is easy to recognise (and to grep for). */
export const TOKEN_PREFIX = 'cns_';

export interface IssueTokenInput {
  role: TokenRole;
  /** Default: the agent type plus a random suffix (agent tokens), else the role plus one. */
  name?: string;
  /** Agent tokens: the agent identity (default: the name). */
  agentName?: string;
  /** Agent tokens: required. */
  type?: string;
  /** Agent tokens: the capabilities it may register with (empty: any). */
  capabilities?: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$/;

/** SHA-256 of a secret, lower-case hex (what the store keeps). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A fresh secret: `cns_` and 32 random bytes, base64url. */
export function newSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Creates a token; returns its record and the secret (shown once, never stored). */
export async function issueToken(
  coordinator: Pick<Coordinator, 'createToken'>,
  input: IssueTokenInput,
): Promise<{ token: TokenRecord; secret: string }> {
  const { role } = input;
  if (role !== 'agent' && role !== 'supervisor' && role !== 'admin')
    throw new InvalidInputError(`role must be agent, supervisor or admin (got ${JSON.stringify(role)})`);
  if (role === 'agent') {
    if (!input.type) throw new InvalidInputError('an agent token needs a type (--type): the tasks it takes');
    checkName('agent type', input.type);
    for (const c of input.capabilities ?? []) checkName('capability', c);
  } else if (input.type || (input.capabilities && input.capabilities.length > 0)) {
    throw new InvalidInputError('type and capabilities are for agent tokens (--role agent)');
  }
  const suffix = randomBytes(3).toString('hex');
  const name = input.name ?? (role === 'agent' ? `${input.type}-${suffix}` : `${role}-${suffix}`);
  if (typeof name !== 'string' || name.trim() === '' || name.length > 128)
    throw new InvalidInputError('a token name must be 1-128 characters');
  const agentName = role === 'agent' ? (input.agentName ?? name) : null;
  if (agentName !== null) checkName('agent name (the token name, or agentName)', agentName);
  const secret = newSecret();
  const token = await coordinator.createToken({
    name,
    role,
    agentName,
    agentType: role === 'agent' ? input.type : null,
    capabilities: role === 'agent' ? (input.capabilities ?? []) : [],
    secretHash: hashSecret(secret),
  });
  return { token, secret };
}

/** Creates a token through a coordinator and returns only its secret (tests, scripts). */
export async function createToken(
  coordinator: Pick<Coordinator, 'createToken'>,
  input: IssueTokenInput,
): Promise<string> {
  return (await issueToken(coordinator, input)).secret;
}

/** The live (not revoked) token a presented secret belongs to, or null. */
export async function findLiveToken(
  coordinator: Pick<Coordinator, 'findTokenByHash'>,
  secret: string,
): Promise<TokenRecord | null> {
  if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return null;
  const token = await coordinator.findTokenByHash(hashSecret(secret));
  return token && token.revokedAt === null ? token : null;
}

function checkName(what: string, value: string): void {
  if (!NAME.test(value))
    throw new InvalidInputError(
      `${what} must be 1-128 letters, digits or _.:/@- (got ${JSON.stringify(value)})`,
    );
}
