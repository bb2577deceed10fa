// `prim user …`: who is online, and kicking users, through the running
// node (only it knows the sessions).
import type { Command } from 'commander';
import { cliConfig, examples, withJson } from './context.js';
import { table, type Output } from './output.js';
import { TenantClient } from './rest.js';

// The largest page /user/list serves.
const PAGE_SIZE = 1000;

interface OnlineUser {
  userId: string;
  platforms: string[];
}

interface Kicked {
  userId: string;
  platform: string;
  closed: number;
}

export function registerUser(program: Command, out: Output): void {
  const user = program
    .command('user')
    .description("a tenant's online users, through the running node")
    .addHelpText(
      'after',
      examples('prim user list --tenant acme', 'prim user kick --tenant acme --user alice'),
    );

  withJson(user.command('list'))
    .description('list the online users of a tenant with their platforms')
    .requiredOption('--tenant <account>', 'the tenant')
    .addHelpText(
      'after',
      examples('prim user list --tenant acme', 'prim user list --tenant acme --json'),
    )
    .action(async (options: { tenant: string }, command: Command) => {
      const { config } = cliConfig(command, out);
      const client = await TenantClient.open(config, options.tenant);
      const users: OnlineUser[] = [];
      for (let page = 1; ; page += 1) {
        const data = await client.get<{ list: OnlineUser[]; total: number }>('/user/list', {
          page,
          pageSize: PAGE_SIZE,
        });
        users.push(...data.list);
        if (data.list.length === 0 || users.length >= data.total) break;
      }
      out.result({ users, total: users.length }, () =>
        users.length === 0
          ? []
          : table(
              ['user id', 'platforms'],
              users.map((entry) => [entry.userId, entry.platforms.join(', ')]),
            ),
      );
      if (users.length === 0) out.hint(`no user of ${options.tenant} is online`);
    });

  withJson(user.command('kick'))
    .description("close a user's sessions (4503) and revoke the tokens issued before now")
    .requiredOption('--tenant <account>', 'the tenant')
    .requiredOption('--user <userId>', 'the user to kick')
    .option('--platform <platform>', 'only this platform (default: every platform)')
    .addHelpText(
      'after',
      examples(
        'prim user kick --tenant acme --user alice',
        'prim user kick --tenant acme --user alice --platform ios',
      ),
    )
    .action(
      async (options: { tenant: string; user: string; platform?: string }, command: Command) => {
        const { config } = cliConfig(command, out);
        const client = await TenantClient.open(config, options.tenant);
        const kicked = await client.post<Kicked>('/sysClient/exit', {
          userId: options.user,
          appPlatform: options.platform,
        });
        const where = kicked.platform === 'all' ? 'every platform' : kicked.platform;
        out.result(
          kicked,
          () =>
            `kicked ${kicked.userId} on ${where}: ` +
            `${kicked.closed} session${kicked.closed === 1 ? '' : 's'} closed`,
        );
        out.hint('tokens issued before now are refused; the user needs a new one');
      },
    );
}
