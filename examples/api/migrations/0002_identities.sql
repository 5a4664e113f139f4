-- Identities vouched for by OpenID Connect providers, linked to users.
-- A user created by such a sign-in has an empty password_hash: it has no
-- password, and /login refuses it after the same work as an unknown email.
CREATE TABLE IF NOT EXISTS identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
