/** Schema migrations, in order; each runs once per database, on SQLite and PostgreSQL alike. */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { repositoryMigration } from '@tether/repository';

export type Dialect = 'sqlite' | 'postgres';

function initial(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
        .addColumn('manager_id', 'text', (c) => c.references('users.id'))
        .addColumn('password_hash', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('disabled_at', 'text')
        .execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('web_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('join_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('max_uses', 'integer', (c) => c.notNull())
        .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('agents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('public_key', 'text', (c) => c.notNull().unique())
        .addColumn('os', 'text', (c) => c.notNull())
        .addColumn('arch', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('hostname', 'text')
        .addColumn('join_token_id', 'text')
        .addColumn('enrolled_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('last_seen_at', 'text')
        .addColumn('connected_node', 'text')
        .addColumn('connection_id', 'text')
        .addColumn('connected_at', 'text')
        .addColumn('remote_addr', 'text')
        .execute();
      await db.schema.createIndex('agents_account').on('agents').column('account_id').execute();

      await db.schema
        .createTable('execs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('agent_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('signal', 'text')
        .addColumn('timed_out', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('stdout_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('stderr_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('duration_ms', 'integer')
        .execute();
      await db.schema
        .createIndex('execs_node_status')
        .on('execs')
        .columns(['node_id', 'status'])
        .execute();

      const seq = dialect === 'postgres' ? 'bigserial' : 'integer';
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', sql.raw(seq) as any, (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('actor_name', 'text')
        .addColumn('actor_role', 'text')
        .addColumn('account_id', 'text')
        .addColumn('agent_id', 'text')
        .addColumn('ticket_id', 'text')
        .addColumn('session_id', 'text')
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_account')
        .on('audit_events')
        .columns(['account_id', 'seq'])
        .execute();
      await db.schema
        .createIndex('audit_actor')
        .on('audit_events')
        .columns(['actor_id', 'seq'])
        .execute();
      await db.schema
        .createIndex('audit_agent')
        .on('audit_events')
        .columns(['agent_id', 'seq'])
        .execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** Support requests, chat rooms, consent and terminal sessions (the support-terminal issue). */
const support: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('tickets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id'))
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('question', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('assignee_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('taken_at', 'text')
      .addColumn('closed_at', 'text')
      .addColumn('closed_by', 'text')
      .addColumn('summary', 'text')
      .execute();
    await db.schema
      .createIndex('tickets_status')
      .on('tickets')
      .columns(['status', 'created_at'])
      .execute();
    await db.schema
      .createIndex('tickets_account')
      .on('tickets')
      .columns(['account_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('chat_messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('author_id', 'text', (c) => c.notNull())
      .addColumn('author_name', 'text', (c) => c.notNull())
      .addColumn('author_role', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('chat_room')
      .on('chat_messages')
      .columns(['agent_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('consent_policies')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      .addColumn('terminal_mode', 'text', (c) => c.notNull())
      .addColumn('timeout_seconds', 'integer', (c) => c.notNull())
      .addColumn('record_input', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text')
      .execute();

    await db.schema
      .createTable('approval_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('requester_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .execute();
    await db.schema
      .createIndex('approvals_account')
      .on('approval_requests')
      .columns(['account_id', 'status'])
      .execute();

    await db.schema
      .createTable('terminal_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('approval_id', 'text')
      .addColumn('engineer_id', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('ended_by', 'text')
      .addColumn('end_reason', 'text')
      .addColumn('cols', 'integer', (c) => c.notNull())
      .addColumn('rows', 'integer', (c) => c.notNull())
      .addColumn('recording', 'text', (c) => c.notNull())
      .addColumn('bytes_out', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('bytes_in', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createIndex('terminals_agent')
      .on('terminal_sessions')
      .columns(['agent_id', 'started_at'])
      .execute();
  },
};

/** Consent for files and port forwards, with path and target lists (issue 4). */
const accessPolicy: Migration = {
  async up(db: Kysely<unknown>) {
    const columns: [string, 'text' | 'integer', string | number][] = [
      ['file_read_mode', 'text', 'always_ask'],
      ['file_write_mode', 'text', 'always_ask'],
      ['forward_mode', 'text', 'always_ask'],
      ['path_allow', 'text', '[]'],
      ['path_deny', 'text', '[]'],
      ['forward_targets', 'text', '[]'],
      ['self_service', 'integer', 0],
    ];
    for (const [name, type, value] of columns)
      await db.schema
        .alterTable('consent_policies')
        .addColumn(name, type, (c) => c.notNull().defaultTo(value))
        .execute();
  },
};

/** Port forwards and their connections (issue 4). */
const forwards: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('forwards')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('approval_id', 'text')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('port', 'integer', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('listed', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('ended_by', 'text')
      .addColumn('end_reason', 'text')
      .addColumn('lease_until', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('forwards_agent')
      .on('forwards')
      .columns(['agent_id', 'created_at'])
      .execute();
    await db.schema
      .createIndex('forwards_lease')
      .on('forwards')
      .columns(['status', 'lease_until'])
      .execute();

    await db.schema
      .createTable('forward_connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('forward_id', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('bytes_up', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('bytes_down', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('duration_ms', 'integer')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .execute();
    await db.schema
      .createIndex('forward_connections_forward')
      .on('forward_connections')
      .columns(['forward_id', 'started_at'])
      .execute();
    await db.schema
      .createIndex('forward_connections_node')
      .on('forward_connections')
      .columns(['node_id', 'status'])
      .execute();
  },
};

/** File sessions and the history of file work (issue 4). */
const files: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('file_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('read_approval_id', 'text')
      .addColumn('write_approval_id', 'text')
      .addColumn('can_write', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('ended_by', 'text')
      .addColumn('end_reason', 'text')
      .addColumn('roots', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('cwd_b64', 'text')
      .addColumn('open_b64', 'text')
      .addColumn('open_hash', 'text')
      .execute();
    await db.schema
      .createIndex('file_sessions_agent')
      .on('file_sessions')
      .columns(['agent_id', 'started_at'])
      .execute();

    await db.schema
      .createTable('file_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ticket_id', 'text')
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('code', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('path_b64', 'text', (c) => c.notNull())
      .addColumn('to_path_b64', 'text')
      .addColumn('before_hash', 'text')
      .addColumn('after_hash', 'text')
      .addColumn('bytes', 'bigint')
      .addColumn('diff', 'text')
      .addColumn('detail', 'text')
      .execute();
    for (const [name, columns] of [
      ['file_events_agent', ['agent_id', 'created_at']],
      ['file_events_session', ['session_id', 'created_at']],
      ['file_events_ticket', ['ticket_id', 'created_at']],
      ['file_events_after', ['after_hash']],
      ['file_events_before', ['before_hash']],
    ] as const)
      await db.schema
        .createIndex(name)
        .on('file_events')
        .columns([...columns])
        .execute();
  },
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return {
        '0001-initial': initial(dialect),
        '0002-support': support,
        '0003-access-policy': accessPolicy,
        '0004-files': files,
        // The script repository's index tables (packages/repository/src/index/migrations.ts).
        '0005-repository': repositoryMigration,
        '0006-forwards': forwards,
      };
    },
  };
}
