-- Times are timestamptz at millisecond precision. Slices and structs are jsonb.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	name          TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	presence      TEXT NOT NULL DEFAULT 'offline',
	capacity      INTEGER NOT NULL DEFAULT 0,
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE auth_sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash TEXT NOT NULL UNIQUE,
	expires_at TIMESTAMPTZ NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE inboxes (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL DEFAULT '',
	widget_key      TEXT NOT NULL UNIQUE,
	allowed_origins JSONB NOT NULL DEFAULT 'null',
	identity_secret TEXT NOT NULL DEFAULT '',
	settings        JSONB NOT NULL DEFAULT '{}',
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE contacts (
	id          TEXT PRIMARY KEY,
	inbox_id    TEXT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
	external_id TEXT NOT NULL DEFAULT '',
	name        TEXT NOT NULL DEFAULT '',
	email       TEXT NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts (inbox_id, external_id) WHERE external_id <> '';
CREATE INDEX contacts_inbox ON contacts (inbox_id);

CREATE TABLE conversations (
	id            TEXT PRIMARY KEY,
	inbox_id      TEXT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
	contact_id    TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	status        TEXT NOT NULL,
	owner         TEXT NOT NULL,
	assignee_id   TEXT NOT NULL DEFAULT '',
	context_epoch BIGINT NOT NULL DEFAULT 0,
	last_seq      BIGINT NOT NULL DEFAULT 0,
	version       BIGINT NOT NULL DEFAULT 1,
	kb_misses     INTEGER NOT NULL DEFAULT 0,
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversations_inbox ON conversations (inbox_id, updated_at);
CREATE INDEX conversations_contact ON conversations (contact_id, updated_at);
CREATE INDEX conversations_status ON conversations (status, updated_at);
CREATE INDEX conversations_assignee ON conversations (assignee_id, updated_at) WHERE assignee_id <> '';

CREATE TABLE messages (
	id              TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	client_msg_id   TEXT NOT NULL DEFAULT '',
	sender          TEXT NOT NULL,
	author_id       TEXT NOT NULL DEFAULT '',
	kind            TEXT NOT NULL,
	content         TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	provider        TEXT NOT NULL DEFAULT '',
	model           TEXT NOT NULL DEFAULT '',
	usage           JSONB NOT NULL DEFAULT '{}',
	cost            DOUBLE PRECISION NOT NULL DEFAULT 0,
	ttft_ms         BIGINT NOT NULL DEFAULT 0,
	flags           JSONB NOT NULL DEFAULT 'null',
	sources         JSONB NOT NULL DEFAULT 'null',
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (conversation_id, client_msg_id) WHERE client_msg_id <> '';
CREATE INDEX messages_streaming ON messages (created_at) WHERE state = 'streaming';

CREATE TABLE events (
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	type            TEXT NOT NULL,
	message_id      TEXT NOT NULL DEFAULT '',
	data            JSONB,
	created_at      TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	prefix     TEXT NOT NULL DEFAULT '',
	hash       TEXT NOT NULL UNIQUE,
	inbox_id   TEXT NOT NULL DEFAULT '',
	rate_limit JSONB NOT NULL DEFAULT 'null',
	budget     JSONB NOT NULL DEFAULT 'null',
	revoked_at TIMESTAMPTZ,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE documents (
	id         TEXT PRIMARY KEY,
	inbox_id   TEXT NOT NULL,
	title      TEXT NOT NULL DEFAULT '',
	source     TEXT NOT NULL DEFAULT '',
	format     TEXT NOT NULL DEFAULT '',
	content    TEXT NOT NULL DEFAULT '',
	passages   INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX documents_source ON documents (inbox_id, source) WHERE source <> '';

CREATE TABLE passages (
	id          TEXT PRIMARY KEY,
	document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	inbox_id    TEXT NOT NULL,
	title       TEXT NOT NULL DEFAULT '',
	heading     TEXT NOT NULL DEFAULT '',
	text        TEXT NOT NULL DEFAULT '',
	ord         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passages_document ON passages (document_id, ord);
CREATE INDEX passages_inbox ON passages (inbox_id, document_id, ord);

CREATE TABLE audit_records (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL,
	inbox_id        TEXT NOT NULL DEFAULT '',
	conversation_id TEXT NOT NULL DEFAULT '',
	subject         TEXT NOT NULL DEFAULT '',
	detail          TEXT NOT NULL DEFAULT '',
	created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_records_created ON audit_records (created_at);

CREATE TABLE usage_records (
	id                TEXT PRIMARY KEY,
	subject           TEXT NOT NULL DEFAULT '',
	provider          TEXT NOT NULL DEFAULT '',
	model             TEXT NOT NULL DEFAULT '',
	prompt_tokens     BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	estimated         BOOLEAN NOT NULL DEFAULT false,
	cost              DOUBLE PRECISION NOT NULL DEFAULT 0,
	outcome           TEXT NOT NULL DEFAULT '',
	ttft_ms           BIGINT NOT NULL DEFAULT 0,
	created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_records_created ON usage_records (created_at);

CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
