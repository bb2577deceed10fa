// `prim token …`: connection tokens, minted and checked with the tenant
// secret from the store, under the token policy of the config.
import type { Command } from 'commander';
import { issueToken, tokenPolicyOf, verifyToken, type TokenClaims } from '../auth/tokens.js';
import { formatDuration, parseDuration } from '../config/values.js';
import { PrimError } from '../errors.js';
import { cliConfig, examples, flagValue, withJson, withTenants } from './context.js';
import { fields, time, type Output } from './output.js';

interface IssueOptions {
  tenant: string;
  user: string;
  platform: string;
  ttl?: string;
  nickname?: string;
  avatar?: string;
}

function showClaims(claims: TokenClaims): string[] {
  return fields([
    ['tenant', claims.tenant],
    ['userId', claims.userId],
    ['platform', claims.platform],
    ['nickname', claims.nickname || '-'],
    ['avatar', claims.avatar || '-'],
    ['issuedAt', time(claims.issuedAt)],
    ['expiresAt', time(claims.expiresAt)],
    ['tokenId', claims.tokenId || '-'],
  ]);
}

export function registerToken(program: Command, out: Output): void {
  const token = program
    .command('token')
    .description('issue and check connection tokens (on the store; no running node needed)')
    .addHelpText(
      'after',
      examples(
        'ALICE=$(prim token issue --tenant acme --user alice)',
        'prim token verify "$ALICE"',
      ),
    );

  withJson(token.command('issue'))
    .description('print a connection token for one user, alone on stdout')
    .requiredOption('--tenant <account>', 'the tenant the user belongs to')
    .requiredOption('--user <userId>', 'the user the token is for')
    .option('--platform <platform>', 'web, android, ios, desktop (config key platforms)', 'web')
    .option('--ttl <duration>', 'lifetime like 90s, 12h or 30d (default tokens.defaultTtl)')
    .option('--nickname <name>', 'shown to receivers as senderInfo.nickname')
    .option('--avatar <url>', 'shown to receivers as senderInfo.avatar')
    .addHelpText(
      'after',
      examples(
        'prim token issue --tenant acme --user alice',
        'prim token issue --tenant acme --user bob --platform ios --ttl 30d --nickname Bob',
        'prim token issue --tenant acme --user alice --json',
      ),
    )
    .action(async (options: IssueOptions, command: Command) => {
      const { config } = cliConfig(command, out);
      const ttlMs =
        options.ttl === undefined
          ? config.tokens.defaultTtl
          : flagValue(parseDuration, '--ttl', options.ttl);
      const issued = await withTenants(config, async (tenants) => {
        const tenant = await tenants.require(options.tenant);
        if (tenant.disabled) {
          throw new PrimError(
            'TENANT_DISABLED',
            `tenant "${tenant.account}" is disabled; its tokens would be refused ` +
              `(prim tenant enable ${tenant.account})`,
          );
        }
        return issueToken(
          tenant,
          {
            userId: options.user,
            platform: options.platform,
            ttlMs,
            nickname: options.nickname,
            avatar: options.avatar,
          },
          tokenPolicyOf(config),
        );
      });
      out.result(issued, () => issued.token);
      out.hint(`expires ${time(issued.expiresAt)} (in ${formatDuration(ttlMs)})`);
    });

  withJson(token.command('verify'))
    .description('check a token as a node would and print its claims, or why it is refused')
    .argument('<token>', 'the connection token')
    .addHelpText(
      'after',
      examples('prim token verify "$ALICE"', 'prim token verify "$ALICE" --json'),
    )
    .action(async (given: string, _options: unknown, command: Command) => {
      const { config } = cliConfig(command, out);
      const claims = await withTenants(config, async (tenants, store) => {
        try {
          return await verifyToken(given, tenants, store, tokenPolicyOf(config));
        } catch (err) {
          if (!(err instanceof PrimError)) throw err;
          throw new PrimError(err.kind, `token refused: ${err.message} (code ${err.code})`);
        }
      });
      out.result(claims, () => showClaims(claims));
    });
}
