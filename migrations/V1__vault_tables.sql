-- The vault's tables (docs/FORMAT.md, "The vault file"): keys and values are bytes, keys
-- compared bytewise. lockbox_writer's one row is what a write transaction locks first.
CREATE TABLE lockbox_meta (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_tenants (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_items (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_chunks (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_engineers (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_requests (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_grants (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_audit (k BYTEA PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE lockbox_claims (blob BYTEA PRIMARY KEY, expires BIGINT NOT NULL);
CREATE TABLE lockbox_writer (id INT PRIMARY KEY);
INSERT INTO lockbox_writer (id) VALUES (1);
