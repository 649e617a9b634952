-- Least-privilege roles for Tau. Run as a superuser, connected to the Tau database,
-- AFTER the schema exists (init.sql or `tau db upgrade`), and again after any
-- migration that adds a table; running it twice is harmless:
--
--   psql -v ON_ERROR_STOP=1 -d tau -f config/roles.sql
--   psql -d tau -c "ALTER ROLE tau_owner PASSWORD 'long-random-1'"
--   psql -d tau -c "ALTER ROLE tau_daemon PASSWORD 'long-random-2'"
--
-- tau_owner   owns the schema's objects and runs migrations (`tau db upgrade` with
--             TAU_MIGRATION_DATABASE_URL / TAU_DATABASE_URL set to this role).
-- tau_daemon  what the bridge runs as: reads the configuration, writes the runtime
--             state, may create/change/delete fixtures, groups, memberships and
--             scenes (the MQTT bridge-request API), LISTENs to tau_config. It owns
--             nothing and cannot create, alter or drop anything.
--
-- No passwords here: set them with ALTER ROLE ... PASSWORD as above (or use peer /
-- certificate authentication), so this file can live in version control.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tau_owner') THEN
        CREATE ROLE tau_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tau_daemon') THEN
        CREATE ROLE tau_daemon LOGIN;
    END IF;
END
$$;

DO $$
DECLARE
    obj record;
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO tau_owner, tau_daemon',
                   current_database());

    -- Only the owner may create objects in the schema (PostgreSQL < 15 let PUBLIC).
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE, CREATE ON SCHEMA public TO tau_owner;
    GRANT USAGE ON SCHEMA public TO tau_daemon;

    -- Hand every existing table, view and function of the schema to tau_owner, so
    -- migrations run as tau_owner can alter them. (Sequences follow their tables.)
    FOR obj IN
        SELECT c.relname, c.relkind FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
           AND pg_get_userbyid(c.relowner) <> 'tau_owner'
    LOOP
        EXECUTE format('ALTER %s public.%I OWNER TO tau_owner',
                       CASE obj.relkind WHEN 'v' THEN 'VIEW'
                                        WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                       obj.relname);
    END LOOP;
    FOR obj IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
           AND pg_get_userbyid(p.proowner) <> 'tau_owner'
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO tau_owner', obj.signature);
    END LOOP;

    -- The runtime role: read everything, write state, edit what the bridge API edits.
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tau_daemon';
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO tau_daemon';
    EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tau_daemon';
    FOR obj IN
        SELECT unnest(ARRAY['fixture_state', 'group_state', 'fixtures', 'groups',
                            'group_fixtures', 'group_hierarchy', 'scenes', 'scene_values',
                            'bridge_nodes', 'bridge_leases'])
               AS relname
    LOOP
        IF to_regclass('public.' || quote_ident(obj.relname)) IS NOT NULL THEN
            EXECUTE format('GRANT INSERT, UPDATE, DELETE ON public.%I TO tau_daemon', obj.relname);
        END IF;
    END LOOP;
END
$$;

-- Tables and sequences that future migrations create (as tau_owner) are readable by
-- tau_daemon without re-running this file; write access to a new table is granted
-- by re-running it (add the table to the list above) or in the migration itself.
ALTER DEFAULT PRIVILEGES FOR ROLE tau_owner IN SCHEMA public
    GRANT SELECT ON TABLES TO tau_daemon;
ALTER DEFAULT PRIVILEGES FOR ROLE tau_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO tau_daemon;
