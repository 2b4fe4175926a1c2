/** Validation of a token to store, shared by the backends (the store's last line of defence). */
import { InvalidInputError } from '../core/errors.js';
import type { TokenRole } from '../core/types.js';
import type { NewToken } from './store.js';

const ROLES: readonly TokenRole[] = ['agent', 'supervisor', 'admin'];

export interface ValidToken {
  name: string;
  role: TokenRole;
  agentName: string | null;
  agentType: string | null;
  capabilities: string[];
  secretHash: string;
}

/** Checks the role, the hash's shape and the agent fields; agent tokens default agentName to name. */
export function validateNewToken(input: NewToken): ValidToken {
  if (!ROLES.includes(input.role))
    throw new InvalidInputError(
      `token role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(input.role)})`,
    );
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128)
    throw new InvalidInputError('a token needs a name of 1-128 characters');
  if (typeof input.secretHash !== 'string' || !/^[0-9a-f]{64}$/.test(input.secretHash))
    throw new InvalidInputError('secretHash must be a SHA-256 digest in lower-case hex');
  if (input.role !== 'agent') {
    if (input.agentType || (input.capabilities && input.capabilities.length > 0))
      throw new InvalidInputError('only agent tokens carry an agent type and capabilities');
    return {
      name: input.name,
      role: input.role,
      agentName: null,
      agentType: null,
      capabilities: [],
      secretHash: input.secretHash,
    };
  }
  if (typeof input.agentType !== 'string' || input.agentType.trim() === '')
    throw new InvalidInputError('an agent token needs an agent type');
  return {
    name: input.name,
    role: 'agent',
    agentName: input.agentName ?? input.name,
    agentType: input.agentType,
    capabilities: [...new Set(input.capabilities ?? [])].sort(),
    secretHash: input.secretHash,
  };
}
