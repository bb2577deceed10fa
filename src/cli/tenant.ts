// `prim tenant …`: tenant lifecycle, straight on the store. A running node
// sees each change within 5 s, so none of these needs one.
import { confirm } from '@inquirer/prompts';
import type { Command } from 'commander';
import type { TenantView } from '../auth/tenants.js';
import { viewTenant } from '../auth/tenants.js';
import { formatDuration } from '../config/values.js';
import { PrimError } from '../errors.js';
import { canPrompt, cliConfig, examples, globalsOf, withJson, withTenants } from './context.js';
import { UsageError } from './failure.js';
import { fields, table, time, type Output } from './output.js';

// Tenants read from the store per round trip by `tenant list`.
const LIST_PAGE = 500;

function showTenant(view: TenantView): string[] {
  return fields([
    ['account', view.account],
    ['phone', view.phoneNum ?? '-'],
    ['status', view.disabled ? 'disabled' : 'enabled'],
    ['created', time(view.createdAt)],
    ['secretRotated', time(view.secretRotatedAt)],
  ]);
}

export function registerTenant(program: Command, out: Output): void {
  const tenant = program
    .command('tenant')
    .description('create and manage tenants (on the store; no running node needed)')
    .addHelpText(
      'after',
      examples('prim tenant create acme', 'prim tenant list', 'prim tenant delete acme --yes'),
    );

  withJson(tenant.command('create'))
    .description('create a tenant and print its authCode, which is shown only this once')
    .argument('<account>', 'the tenant account: 2–64 of a-z, 0-9, - and _')
    .option('--phone <phone>', 'a contact phone number')
    .addHelpText(
      'after',
      examples('prim tenant create acme', 'prim tenant create acme --phone +15550100 --json'),
    )
    .action(async (account: string, options: { phone?: string }, command: Command) => {
      const { config } = cliConfig(command, out);
      const created = await withTenants(config, (tenants) =>
        tenants.create(account, options.phone),
      );
      out.result(created, () =>
        fields([
          ['account', created.account],
          ['authCode', created.authCode],
        ]),
      );
      out.hint(
        'the authCode is shown only now; the tenant backend authenticates with ' +
          'Basic auth account:authCode',
      );
    });

  withJson(tenant.command('list'))
    .description('list the tenants, without their secrets')
    .addHelpText('after', examples('prim tenant list', 'prim tenant list --json'))
    .action(async (_options: unknown, command: Command) => {
      const { config } = cliConfig(command, out);
      const { views, total } = await withTenants(config, async (tenants) => {
        const found: TenantView[] = [];
        for (;;) {
          const page = await tenants.list(found.length, LIST_PAGE);
          found.push(...page.tenants);
          if (page.tenants.length === 0 || found.length >= page.total) {
            return { views: found, total: page.total };
          }
        }
      });
      out.result({ tenants: views, total }, () =>
        views.length === 0
          ? []
          : table(
              ['account', 'phone', 'status', 'created', 'secret rotated'],
              views.map((view) => [
                view.account,
                view.phoneNum ?? '-',
                view.disabled ? 'disabled' : 'enabled',
                time(view.createdAt),
                time(view.secretRotatedAt),
              ]),
            ),
      );
      if (views.length === 0)
        out.hint('no tenants yet; create one with prim tenant create <account>');
    });

  withJson(tenant.command('show'))
    .description('show one tenant, without its secrets')
    .argument('<account>', 'the tenant account')
    .addHelpText('after', examples('prim tenant show acme'))
    .action(async (account: string, _options: unknown, command: Command) => {
      const { config } = cliConfig(command, out);
      const view = await withTenants(config, async (tenants) =>
        viewTenant(await tenants.require(account)),
      );
      out.result(view, () => showTenant(view));
    });

  withJson(tenant.command('rotate-secret'))
    .description("replace a tenant's authCode and print the new one")
    .argument('<account>', 'the tenant account')
    .addHelpText('after', examples('prim tenant rotate-secret acme'))
    .action(async (account: string, _options: unknown, command: Command) => {
      const { config } = cliConfig(command, out);
      const rotated = await withTenants(config, (tenants) => tenants.rotateSecret(account));
      out.result(rotated, () => rotated.authCode);
      out.hint(
        'the backend must use the new authCode from now on; tokens signed with the old ' +
          `one still verify for ${formatDuration(config.tokens.rotationGrace)} ` +
          '(tokens.rotationGrace)',
      );
    });

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    withJson(tenant.command(name))
      .description(
        disabled
          ? 'disable a tenant: its sessions close, its tokens and credentials are refused'
          : 'enable a disabled tenant again',
      )
      .argument('<account>', 'the tenant account')
      .addHelpText('after', examples(`prim tenant ${name} acme`))
      .action(async (account: string, _options: unknown, command: Command) => {
        const { config } = cliConfig(command, out);
        const view = await withTenants(config, (tenants) => tenants.setDisabled(account, disabled));
        out.result(view, () => `tenant ${view.account} ${name}d`);
        if (disabled) out.hint('a running node closes its sessions within 5 s');
      });
  }

  withJson(tenant.command('delete'))
    .description('delete a tenant with all its messages, for good')
    .argument('<account>', 'the tenant account')
    .option('-y, --yes', 'delete without asking (required without a terminal)')
    .addHelpText('after', examples('prim tenant delete acme', 'prim tenant delete acme --yes'))
    .action(async (account: string, options: { yes?: boolean }, command: Command) => {
      const { config } = cliConfig(command, out);
      await withTenants(config, async (tenants) => {
        await tenants.require(account);
        if (!options.yes) await confirmDelete(account, canPrompt(globalsOf(command)));
        await tenants.delete(account);
      });
      out.result({ account, deleted: true }, () => `tenant ${account} deleted`);
    });
}

async function confirmDelete(account: string, interactive: boolean): Promise<void> {
  if (!interactive) {
    throw new UsageError(
      `deleting tenant "${account}" removes its messages for good; add --yes to confirm`,
    );
  }
  const sure = await confirm({
    message: `Delete tenant "${account}" and all its messages? This cannot be undone.`,
    default: false,
  });
  if (!sure) throw new PrimError('OPERATION_FAILED', `tenant "${account}" was not deleted`);
}
