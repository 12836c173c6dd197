-- postgresql-setup.sql - the database and roles threadmill needs on PostgreSQL (README
-- "Several MX hosts"). Run once, as a PostgreSQL superuser, on the primary:
--
--   psql -v owner_password="$(cat owner.pw)" -v app_password="$(cat app.pw)" \
--        -f /usr/share/doc/threadmill/examples/postgresql-setup.sql
--
-- Two roles (least privilege):
--   threadmill_owner  owns the database and its tables; only `threadmillctl db migrate`
--                     logs in as it (after installing a new threadmill version).
--   threadmill        what every MX host's daemon, threadmillctl and the console use: it
--                     reads and writes rows and can create nothing. Its DSN goes into
--                     [store] dsn_file on each host.
-- The grants below are default privileges of threadmill_owner, so tables a later migration
-- adds are granted the same way without running this file again.
-- Tested by e2e.test_pg_operations (with TLS and a promoted standby).

\set ON_ERROR_STOP on

CREATE ROLE threadmill_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE threadmill LOGIN PASSWORD :'app_password';
CREATE DATABASE threadmill OWNER threadmill_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE threadmill FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE threadmill TO threadmill_owner;
GRANT CONNECT ON DATABASE threadmill TO threadmill;

\connect threadmill
-- Before PostgreSQL 15 every role could create tables in "public": nobody but the owner may.
ALTER SCHEMA public OWNER TO threadmill_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO threadmill;
ALTER DEFAULT PRIVILEGES FOR ROLE threadmill_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO threadmill;
ALTER DEFAULT PRIVILEGES FOR ROLE threadmill_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO threadmill;
