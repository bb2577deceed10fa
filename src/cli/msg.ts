// `prim msg …`: sending and reading messages as a tenant backend, through
// the running node (it delivers to sessions and numbers inboxes).
import type { Command } from 'commander';
import type { Ack, MessageView } from '../messages/messages.js';
import { parseInteger } from '../config/values.js';
import { cliConfig, examples, flagValue, withJson } from './context.js';
import { UsageError } from './failure.js';
import { time, type Output } from './output.js';
import { TenantClient } from './rest.js';

// What /msg/getMsg allows per page.
const MAX_LIMIT = 500;

interface SendOptions {
  tenant: string;
  to: string;
  text: string;
  from?: string;
}

interface HistoryOptions {
  tenant: string;
  between: string[];
  limit?: string;
  after?: string;
  before?: string;
}

export function registerMsg(program: Command, out: Output): void {
  const msg = program
    .command('msg')
    .description('send and read messages as a tenant backend, through the running node')
    .addHelpText(
      'after',
      examples(
        'prim msg send --tenant acme --to bob --text "hello from the backend"',
        'prim msg history --tenant acme --between alice bob',
      ),
    );

  withJson(msg.command('send'))
    .description('store a message and deliver it to the receiver if online')
    .requiredOption('--tenant <account>', 'the tenant')
    .requiredOption('--to <userId>', 'the receiver')
    .requiredOption('--text <message>', 'the message text')
    .option('--from <userId>', 'the sender (default: system)')
    .addHelpText(
      'after',
      examples(
        'prim msg send --tenant acme --to bob --text "your order shipped"',
        'prim msg send --tenant acme --to bob --from alice --text "hi" --json',
      ),
    )
    .action(async (options: SendOptions, command: Command) => {
      const { config } = cliConfig(command, out);
      const client = await TenantClient.open(config, options.tenant);
      const ack = await client.post<Ack>('/msg/sendMsg', {
        receiverId: options.to,
        message: options.text,
        senderId: options.from,
      });
      out.result(ack, () =>
        ack.delivered
          ? `message ${ack.id} delivered to ${options.to}`
          : `message ${ack.id} stored; ${options.to} is offline and gets it on the next sync`,
      );
    });

  withJson(msg.command('history'))
    .description('one conversation, both directions, oldest first')
    .requiredOption('--tenant <account>', 'the tenant')
    .requiredOption('--between <userIds...>', 'the two users of the conversation')
    .option('--limit <n>', `messages to show, 1–${MAX_LIMIT} (default 50)`)
    .option('--after <id>', 'start after this message id (the next page)')
    .option('--before <id>', 'end before this message id (the previous page)')
    .addHelpText(
      'after',
      examples(
        'prim msg history --tenant acme --between alice bob',
        'prim msg history --tenant acme --between alice bob --limit 10 --after 42 --json',
      ),
    )
    .action(async (options: HistoryOptions, command: Command) => {
      if (options.between.length !== 2) {
        throw new UsageError(
          `--between takes exactly two user ids, not ${options.between.length}: ` +
            '--between alice bob',
        );
      }
      const limit =
        options.limit === undefined
          ? undefined
          : flagValue(
              (name, raw) => parseInteger(name, raw, 1, MAX_LIMIT),
              '--limit',
              options.limit,
            );
      const { config } = cliConfig(command, out);
      const client = await TenantClient.open(config, options.tenant);
      const [userA, userB] = options.between;
      const page = await client.get<{ msgList: MessageView[]; hasMore: boolean }>('/msg/getMsg', {
        senderId: userA,
        receiverId: userB,
        limit,
        after: options.after,
        before: options.before,
      });
      const messages = page.msgList;
      out.result({ messages, hasMore: page.hasMore }, () =>
        messages.map(
          (m) => `${time(m.time)}  ${m.id}  ${m.senderInfo.userId} → ${m.receiverId}  ${m.message}`,
        ),
      );
      if (messages.length === 0) out.hint(`${userA} and ${userB} have exchanged no messages`);
      // Paging backwards (--before) has more before the page, otherwise after.
      if (page.hasMore && options.before !== undefined) {
        out.hint(`earlier messages: --before ${messages[0].id}`);
      } else if (page.hasMore) {
        out.hint(`later messages: --after ${messages[messages.length - 1].id}`);
      }
    });
}
