//! Built-in migrations, one list per dialect, applied in order on start. The applied version
//! is kept in `schema_version`; a database newer than this program is refused.

/// Migrations for SQLite. Index `i` brings the schema to version `i + 1`.
pub const SQLITE: &[&str] = &[r#"
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('simplified', 'standard', 'confirmed')),
    profile TEXT,
    snils TEXT,
    confirmed_at INTEGER,
    certificate TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX accounts_snils ON accounts (snils);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (id),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    challenge TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX challenges_expiry ON challenges (expires_at);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    account_id INTEGER,
    nonce TEXT,
    outcome TEXT NOT NULL,
    result TEXT NOT NULL,
    envelope BLOB NOT NULL
);
CREATE INDEX audit_account ON audit (account_id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
"#];

/// Migrations for PostgreSQL. Index `i` brings the schema to version `i + 1`.
pub const POSTGRES: &[&str] = &[r#"
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('simplified', 'standard', 'confirmed')),
    profile TEXT,
    snils TEXT,
    confirmed_at BIGINT,
    certificate TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX accounts_snils ON accounts (snils);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    challenge TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX challenges_expiry ON challenges (expires_at);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    account_id BIGINT,
    nonce TEXT,
    outcome TEXT NOT NULL,
    result TEXT NOT NULL,
    envelope BYTEA NOT NULL
);
CREATE INDEX audit_account ON audit (account_id);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"#];

/// The statements both dialects share (`$n` placeholders; SQLite numbers them in order of
/// first appearance, so each statement uses `$1`, `$2`, … in order).
pub mod sql {
    /// Select an account by login, with its password hash last.
    pub const ACCOUNT_BY_LOGIN: &str = "SELECT id, login, name, level, profile, confirmed_at, certificate, password_hash FROM accounts WHERE login = $1";
    /// Select an account by id.
    pub const ACCOUNT_BY_ID: &str = "SELECT id, login, name, level, profile, confirmed_at, certificate FROM accounts WHERE id = $1";
    /// Insert an account; returns its id.
    pub const INSERT_ACCOUNT: &str = "INSERT INTO accounts (login, name, password_hash, level, profile, snils, confirmed_at, certificate, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (login) DO NOTHING RETURNING id";
    /// Set a profile unless confirmed.
    pub const SET_PROFILE: &str = "UPDATE accounts SET profile = $1, snils = $2, level = 'standard' WHERE id = $3 AND level <> 'confirmed'";
    /// Raise to confirmed.
    pub const CONFIRM_ACCOUNT: &str = "UPDATE accounts SET level = 'confirmed', confirmed_at = $1, certificate = $2 WHERE id = $3 AND level = 'standard'";
    /// Is there a confirmed account with this SNILS?
    pub const CONFIRMED_SNILS: &str =
        "SELECT count(*) FROM accounts WHERE snils = $1 AND level = 'confirmed'";
    /// Insert a session.
    pub const INSERT_SESSION: &str = "INSERT INTO sessions (id, account_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
    /// Select an unexpired session.
    pub const SESSION: &str =
        "SELECT id, account_id, csrf, expires_at FROM sessions WHERE id = $1 AND expires_at > $2";
    /// Delete a session.
    pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id = $1";
    /// Insert a challenge.
    pub const INSERT_CHALLENGE: &str = "INSERT INTO challenges (nonce, session_id, account_id, purpose, challenge, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    /// Count live challenges.
    pub const OUTSTANDING: &str =
        "SELECT count(*) FROM challenges WHERE consumed_at IS NULL AND expires_at > $1";
    /// Select a challenge (PostgreSQL appends `FOR UPDATE`).
    pub const CHALLENGE: &str = "SELECT nonce, session_id, account_id, challenge, expires_at, consumed_at FROM challenges WHERE nonce = $1";
    /// Consume a challenge exactly once: affects one row only if not yet consumed.
    pub const CONSUME: &str =
        "UPDATE challenges SET consumed_at = $1 WHERE nonce = $2 AND consumed_at IS NULL";
    /// Append an audit record.
    pub const INSERT_AUDIT: &str = "INSERT INTO audit (at, account_id, nonce, outcome, result, envelope) VALUES ($1, $2, $3, $4, $5, $6)";
    /// Audit records, all.
    pub const AUDIT_ALL: &str =
        "SELECT id, at, account_id, nonce, outcome, result, envelope FROM audit ORDER BY id";
    /// Audit records of one account.
    pub const AUDIT_OF: &str = "SELECT id, at, account_id, nonce, outcome, result, envelope FROM audit WHERE account_id = $1 ORDER BY id";
    /// Consumed nonces.
    pub const CONSUMED: &str =
        "SELECT nonce FROM challenges WHERE consumed_at IS NOT NULL ORDER BY nonce";
    /// Expired sessions.
    pub const SWEEP_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";
    /// Challenges expired for a day.
    pub const SWEEP_CHALLENGES: &str = "DELETE FROM challenges WHERE expires_at <= $1";
}
