import Foundation

/// The PostgreSQL store's schema, as numbered migrations.
///
/// Everything lives in the schema `delivery_otp`, so the store can share a database with other
/// programs without touching their tables. `delivery_otp.migration` records what was applied.
/// ``PostgresServiceStore/migrate(_:logger:)`` applies what is missing in one transaction under an
/// advisory lock, so replicas that start at once apply each migration exactly once.
package enum PostgresSchema {
    /// The advisory lock held while migrating: the ASCII bytes `DOTS` (as the SQLite store's application id).
    package static let advisoryLock: Int64 = 0x444F_5453

    /// The migrations, in order; version n is `migrations[n - 1]`. Never edit one that was released: add one.
    package static let migrations: [String] = [
        version1, version2, version3, version4, version5, version6, version7, version8, version9,
    ]

    /// The schema version this release writes.
    package static var version: Int { migrations.count }

    /// For a migration that a release older than itself may still serve, that release's schema
    /// version (at least 8, the first to read it): stored with the migration (in
    /// `delivery_otp.migration_served_from`, which checks those bounds), so that a replica
    /// of that release keeps starting on the database while the replicas are being upgraded. A
    /// migration not listed here needs a release of its own version. Give one only when the
    /// older release's statements work on the new schema unchanged (the routines it calls keep
    /// their names, arguments and answers; a new column has a default), and never lower it later.
    /// Never rename or drop `migration` or `migration_served_from`: releases from 8 on read them.
    package static let servedFrom: [Int: Int] = [9: 8]

    /// The statements of one migration: PostgreSQL's extended protocol takes one at a time. Splits
    /// at each `;` that ends a line outside a `$$` function body (this file's own text only).
    package static func statements(of migration: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in migration.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingPrefix(while: { $0 == " " }).hasPrefix("--") && !inBody { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody && line.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }

    /// Version 1: the attempt log, one counter row per (scope, shipment, date), uploads, the clock,
    /// and the two functions that make admitting and finishing an attempt one statement each.
    static let version1 = """
        CREATE TABLE delivery_otp.attempt (
            id bigserial PRIMARY KEY,
            time bigint NOT NULL,
            shipment text NOT NULL,
            delivery_date text NOT NULL,
            scope text NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('interrupted', 'accepted', 'rejected', 'locked', 'already-accepted')),
            attempt integer,
            device_id text,
            source text NOT NULL CHECK (source IN ('online', 'upload'))
        );
        CREATE INDEX attempt_by_time ON delivery_otp.attempt (time, id);

        -- One row per (scope, shipment, date): the count of online attempts, the lock and the handover.
        -- Admitting an attempt locks this row, so replicas count one at a time per shipment and in
        -- parallel across shipments.
        CREATE TABLE delivery_otp.counter (
            scope text NOT NULL,
            shipment text NOT NULL,
            delivery_date text NOT NULL,
            counted integer NOT NULL DEFAULT 0,
            locked_at bigint,
            accepted_at bigint,
            PRIMARY KEY (scope, shipment, delivery_date)
        );

        -- The latest attempt time any replica has seen: a clock set back by more than the tolerance is refused.
        CREATE TABLE delivery_otp.clock (id integer PRIMARY KEY CHECK (id = 1), latest bigint NOT NULL);

        -- Lines of device logs already taken, per uploading device: an upload repeated (to any replica) adds nothing.
        CREATE TABLE delivery_otp.upload (uploader text NOT NULL, line text NOT NULL, PRIMARY KEY (uploader, line));

        -- Admits one online attempt: refuses a clock set back, then, with the shipment's counter row
        -- locked, records it as already accepted, locked, or counted (the last allowed attempt locks).
        -- Returns (kind, ticket, number, at); kind is 'counted', 'locked', 'already-accepted', 'clock'
        -- (behind the latest attempt time) or 'ahead' (ahead of the database's clock).
        CREATE FUNCTION delivery_otp.begin_attempt(
            p_scope text, p_shipment text, p_date text, p_limit integer, p_caller text, p_time bigint, p_tolerance bigint,
            OUT kind text, OUT ticket bigint, OUT number integer, OUT at bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            v_latest bigint;
            v_row delivery_otp.counter%ROWTYPE;
        BEGIN
            -- A replica whose clock runs ahead of the database's must not move the shared latest time
            -- on: every other replica would then be refused as behind.
            IF p_time > extract(epoch FROM clock_timestamp())::bigint + p_tolerance THEN
                kind := 'ahead'; at := extract(epoch FROM clock_timestamp())::bigint; RETURN;
            END IF;
            SELECT latest INTO v_latest FROM delivery_otp.clock WHERE id = 1;
            IF v_latest IS NOT NULL AND p_time < v_latest - p_tolerance THEN
                kind := 'clock'; at := v_latest; RETURN;
            END IF;
            -- The one row every attempt reads; it is written (and so locked until commit) at most once a
            -- minute, not every second, so attempts for different shipments rarely wait on it. The
            -- check above is therefore up to a minute looser than the tolerance.
            IF v_latest IS NULL OR p_time > v_latest + 60 THEN
                INSERT INTO delivery_otp.clock (id, latest) VALUES (1, p_time)
                ON CONFLICT (id) DO UPDATE SET latest = GREATEST(delivery_otp.clock.latest, excluded.latest);
            END IF;
            INSERT INTO delivery_otp.counter (scope, shipment, delivery_date) VALUES (p_scope, p_shipment, p_date)
            ON CONFLICT DO NOTHING;
            SELECT * INTO v_row FROM delivery_otp.counter
            WHERE scope = p_scope AND shipment = p_shipment AND delivery_date = p_date FOR UPDATE;
            IF v_row.accepted_at IS NOT NULL THEN
                INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, device_id, source)
                VALUES (p_time, p_shipment, p_date, p_scope, 'already-accepted', p_caller, 'online');
                kind := 'already-accepted'; at := v_row.accepted_at; RETURN;
            END IF;
            IF v_row.locked_at IS NOT NULL OR v_row.counted >= p_limit THEN
                IF v_row.locked_at IS NULL THEN
                    UPDATE delivery_otp.counter SET locked_at = p_time
                    WHERE scope = p_scope AND shipment = p_shipment AND delivery_date = p_date;
                END IF;
                INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, device_id, source)
                VALUES (p_time, p_shipment, p_date, p_scope, 'locked', p_caller, 'online');
                kind := 'locked'; RETURN;
            END IF;
            number := v_row.counted + 1;
            UPDATE delivery_otp.counter
            SET counted = number, locked_at = CASE WHEN number >= p_limit THEN p_time ELSE NULL END
            WHERE scope = p_scope AND shipment = p_shipment AND delivery_date = p_date;
            INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
            VALUES (p_time, p_shipment, p_date, p_scope, 'interrupted', number, p_caller, 'online')
            RETURNING id INTO ticket;
            kind := 'counted';
        END;
        $$;

        -- begin_attempt, committed inside the call: PostgreSQL sends a procedure's result only after
        -- its COMMIT, which (synchronous_commit on) returns once the commit is flushed, so the
        -- answer can never precede the durability of the attempt, in one round trip.
        CREATE PROCEDURE delivery_otp.admit_attempt(
            p_scope text, p_shipment text, p_date text, p_limit integer, p_caller text, p_time bigint, p_tolerance bigint,
            INOUT kind text DEFAULT NULL, INOUT ticket bigint DEFAULT NULL, INOUT number bigint DEFAULT NULL,
            INOUT at bigint DEFAULT NULL)
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT b.kind, b.ticket, b.number, b.at INTO kind, ticket, number, at
            FROM delivery_otp.begin_attempt(p_scope, p_shipment, p_date, p_limit, p_caller, p_time, p_tolerance) b;
            COMMIT;
        END;
        $$;

        -- Stores the verdict of a counted attempt; an accepted one records the handover. A rejected
        -- verdict may skip waiting for the WAL flush (p_durable false): if it is lost, the attempt
        -- stays counted as interrupted, which the limit treats the same.
        CREATE FUNCTION delivery_otp.finish_attempt(p_ticket bigint, p_accepted boolean, p_time bigint, p_durable boolean)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT p_durable THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            UPDATE delivery_otp.attempt SET outcome = CASE WHEN p_accepted THEN 'accepted' ELSE 'rejected' END
            WHERE id = p_ticket AND outcome = 'interrupted';
            IF p_accepted THEN
                UPDATE delivery_otp.counter c SET accepted_at = COALESCE(c.accepted_at, p_time)
                FROM delivery_otp.attempt a
                WHERE a.id = p_ticket AND c.scope = a.scope AND c.shipment = a.shipment AND c.delivery_date = a.delivery_date;
            END IF;
        END;
        $$;

        -- finish_attempt, committed inside the call (flushed first when p_durable), in one round trip.
        CREATE PROCEDURE delivery_otp.settle_attempt(p_ticket bigint, p_accepted boolean, p_time bigint, p_durable boolean)
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM delivery_otp.finish_attempt(p_ticket, p_accepted, p_time, p_durable);
            COMMIT;
        END;
        $$;
        """

    /// Version 2: group commit. One call admits a whole batch of attempts and stores the rejected
    /// verdicts queued since the last one, in one transaction with one flush, where version 1 took
    /// a call and a flush per attempt and per verdict.
    static let version2 = """
        -- Admits a batch of online attempts (the arrays p_scopes to p_times, one element per
        -- attempt) and stores the verdicts of the counted attempts p_rejected as rejected.
        -- admit_attempts commits it inside the call: its answer comes only after the commit is
        -- flushed (synchronous_commit on), so no attempt is answered before it is durable. Each
        -- attempt is decided as begin_attempt decides it, and (kinds[i], tickets[i], numbers[i],
        -- ats[i]) is the answer to attempt i, with 0 for "none". Rows are locked in one order,
        -- whoever calls: the clock row first (and only when it moves on), then the counter rows
        -- sorted by (scope, shipment, date), so two batches that share shipments wait for each
        -- other rather than deadlock. Attempts for one shipment are decided in the order sent. A
        -- batch of verdicts alone is not waited for (a lost verdict leaves its attempt counted as
        -- interrupted, which the limit treats the same).
        CREATE FUNCTION delivery_otp.admit_batch(
            p_rejected bigint[], p_scopes text[], p_shipments text[], p_dates text[], p_limits integer[], p_callers text[],
            p_times bigint[], p_tolerance bigint,
            OUT kinds text[], OUT tickets bigint[], OUT numbers bigint[], OUT ats bigint[])
        LANGUAGE plpgsql AS $$
        DECLARE
            v_count integer := COALESCE(cardinality(p_scopes), 0);
            v_now bigint := extract(epoch FROM clock_timestamp())::bigint;
            v_latest bigint;
            v_newest bigint;
            v_row delivery_otp.counter%ROWTYPE;
            v_number integer;
            v_ticket bigint;
            r record;
        BEGIN
            kinds := array_fill(''::text, ARRAY[v_count]);
            tickets := array_fill(0::bigint, ARRAY[v_count]);
            numbers := array_fill(0::bigint, ARRAY[v_count]);
            ats := array_fill(0::bigint, ARRAY[v_count]);
            IF v_count = 0 THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            UPDATE delivery_otp.attempt SET outcome = 'rejected' WHERE id = ANY (p_rejected) AND outcome = 'interrupted';
            IF v_count > 0 THEN
                -- The clock, once for the batch (see begin_attempt): moved on by the newest time it takes.
                SELECT latest INTO v_latest FROM delivery_otp.clock WHERE id = 1;
                SELECT max(t) INTO v_newest FROM unnest(p_times) AS t
                WHERE t <= v_now + p_tolerance AND (v_latest IS NULL OR t >= v_latest - p_tolerance);
                IF v_newest IS NOT NULL AND (v_latest IS NULL OR v_newest > v_latest + 60) THEN
                    INSERT INTO delivery_otp.clock (id, latest) VALUES (1, v_newest)
                    ON CONFLICT (id) DO UPDATE SET latest = GREATEST(delivery_otp.clock.latest, excluded.latest);
                END IF;
            END IF;
            FOR r IN
                SELECT u.scope, u.shipment, u.day, u.lim, u.caller, u.time, u.i::integer AS i
                FROM unnest(p_scopes, p_shipments, p_dates, p_limits, p_callers, p_times)
                    WITH ORDINALITY AS u(scope, shipment, day, lim, caller, time, i)
                ORDER BY u.scope, u.shipment, u.day, u.i
            LOOP
                IF r.time > v_now + p_tolerance THEN
                    kinds[r.i] := 'ahead'; ats[r.i] := v_now; CONTINUE;
                END IF;
                IF v_latest IS NOT NULL AND r.time < v_latest - p_tolerance THEN
                    kinds[r.i] := 'clock'; ats[r.i] := v_latest; CONTINUE;
                END IF;
                INSERT INTO delivery_otp.counter (scope, shipment, delivery_date) VALUES (r.scope, r.shipment, r.day)
                ON CONFLICT DO NOTHING;
                SELECT * INTO v_row FROM delivery_otp.counter
                WHERE scope = r.scope AND shipment = r.shipment AND delivery_date = r.day FOR UPDATE;
                IF v_row.accepted_at IS NOT NULL THEN
                    INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, device_id, source)
                    VALUES (r.time, r.shipment, r.day, r.scope, 'already-accepted', r.caller, 'online');
                    kinds[r.i] := 'already-accepted'; ats[r.i] := v_row.accepted_at; CONTINUE;
                END IF;
                IF v_row.locked_at IS NOT NULL OR v_row.counted >= r.lim THEN
                    IF v_row.locked_at IS NULL THEN
                        UPDATE delivery_otp.counter SET locked_at = r.time
                        WHERE scope = r.scope AND shipment = r.shipment AND delivery_date = r.day;
                    END IF;
                    INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, device_id, source)
                    VALUES (r.time, r.shipment, r.day, r.scope, 'locked', r.caller, 'online');
                    kinds[r.i] := 'locked'; CONTINUE;
                END IF;
                v_number := v_row.counted + 1;
                UPDATE delivery_otp.counter
                SET counted = v_number, locked_at = CASE WHEN v_number >= r.lim THEN r.time ELSE NULL END
                WHERE scope = r.scope AND shipment = r.shipment AND delivery_date = r.day;
                INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                VALUES (r.time, r.shipment, r.day, r.scope, 'interrupted', v_number, r.caller, 'online')
                RETURNING id INTO v_ticket;
                kinds[r.i] := 'counted'; tickets[r.i] := v_ticket; numbers[r.i] := v_number;
            END LOOP;
        END;
        $$;

        -- admit_batch, committed inside the call, in one round trip.
        CREATE PROCEDURE delivery_otp.admit_attempts(
            p_rejected bigint[], p_scopes text[], p_shipments text[], p_dates text[], p_limits integer[], p_callers text[],
            p_times bigint[], p_tolerance bigint,
            INOUT kinds text[] DEFAULT NULL, INOUT tickets bigint[] DEFAULT NULL, INOUT numbers bigint[] DEFAULT NULL,
            INOUT ats bigint[] DEFAULT NULL)
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT b.kinds, b.tickets, b.numbers, b.ats INTO kinds, tickets, numbers, ats
            FROM delivery_otp.admit_batch(p_rejected, p_scopes, p_shipments, p_dates, p_limits, p_callers, p_times, p_tolerance) b;
            COMMIT;
        END;
        $$;
        """

    /// Version 3: least privilege. Every write of the service goes through a function that runs
    /// with its owner's rights (`SECURITY DEFINER`, with a fixed `search_path`), so the service's
    /// role needs only `SELECT` on the tables and `EXECUTE` on the routines: a stolen service
    /// password can count, lock, settle and append as the service does, but cannot rewrite or
    /// delete the attempt log, or reset a count, a lock or a handover.
    static let version3 = """
        ALTER FUNCTION delivery_otp.admit_batch(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint)
            SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
        ALTER FUNCTION delivery_otp.finish_attempt(bigint, boolean, bigint, boolean)
            SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

        -- Stores an uploaded device log: p_rows is a JSON array of objects (ord, line, time,
        -- shipment, delivery_date, scope, outcome, attempt, device_id), one per distinct line. A
        -- line this uploader sent before (to any replica) adds nothing. Returns how many were new.
        -- Lines are taken in one order (sorted), so two uploads that share lines wait for each
        -- other rather than deadlock.
        CREATE FUNCTION delivery_otp.store_upload(p_uploader text, p_rows jsonb) RETURNS bigint
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
            WITH r AS (
                SELECT * FROM jsonb_to_recordset(p_rows) AS r(ord integer, line text, time bigint, shipment text,
                    delivery_date text, scope text, outcome text, attempt integer, device_id text)),
            new AS (
                INSERT INTO delivery_otp.upload (uploader, line) SELECT p_uploader, line FROM r ORDER BY line
                ON CONFLICT DO NOTHING RETURNING line),
            added AS (
                INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                SELECT r.time, r.shipment, r.delivery_date, r.scope, r.outcome, r.attempt, r.device_id, 'upload'
                FROM r JOIN new ON new.line = r.line ORDER BY r.ord
                RETURNING 1)
            SELECT COUNT(*)::bigint FROM added;
        $$;

        -- Only roles given EXECUTE (the owner, and the service role by the owner's default
        -- privileges, as docs/deployment.md sets up) may call what runs with the owner's rights.
        REVOKE EXECUTE ON FUNCTION delivery_otp.admit_batch(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint)
            FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION delivery_otp.finish_attempt(bigint, boolean, bigint, boolean) FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION delivery_otp.store_upload(text, jsonb) FROM PUBLIC;
        """

    /// Version 4: `admit_batch` decides a batch with a few set-based statements instead of four
    /// statements per attempt, and the functions that run with the owner's rights trust their
    /// caller no further than the service needs (the clock tolerance, the limit, which attempts a
    /// verdict may settle). Starting an executor for each small statement was most of the
    /// database's work per verify (`perf` on the server: `ExecutorStart`, `ExecConstraints` reading
    /// the check constraints anew, index descents per statement). The answers are the same; the
    /// contract suite and the batch tests hold for both versions.
    static let version4 = """
        -- Every statement reaches rows by their key, never by a scan (enable_seqscan off): a plan
        -- cached while the tables were small (a new database) kept scanning the whole attempt log
        -- for each batch's verdicts, as auto_explain showed, so that each batch cost more than the last.
        -- Rows are locked in the same order as version 2's: the clock row first (when it moves on),
        -- then the counter rows sorted by (scope, shipment, date), first those it creates, then
        -- those it finds. Within a shipment the attempts are decided in the order sent: the first
        -- ones are counted while the limit allows (the one that reaches it locks the shipment),
        -- and the rest are answered locked, or already accepted after a handover.
        CREATE OR REPLACE FUNCTION delivery_otp.admit_batch(
            p_rejected bigint[], p_scopes text[], p_shipments text[], p_dates text[], p_limits integer[], p_callers text[],
            p_times bigint[], p_tolerance bigint,
            OUT kinds text[], OUT tickets bigint[], OUT numbers bigint[], OUT ats bigint[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
        DECLARE
            v_count integer := COALESCE(cardinality(p_scopes), 0);
            v_now bigint := extract(epoch FROM clock_timestamp())::bigint;
            -- The caller's tolerance, but never more than the service's (600 s): a caller that
            -- could widen it could move the shared clock far ahead and so lock every replica out.
            v_tolerance bigint := LEAST(GREATEST(p_tolerance, 0), 600);
            v_latest bigint;
            v_newest bigint;
            v_index integer[];
            v_kind text[];
            v_ticket bigint[];
            v_number bigint[];
            v_at bigint[];
        BEGIN
            kinds := array_fill(''::text, ARRAY[v_count]);
            tickets := array_fill(0::bigint, ARRAY[v_count]);
            numbers := array_fill(0::bigint, ARRAY[v_count]);
            ats := array_fill(0::bigint, ARRAY[v_count]);
            IF v_count = 0 THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            UPDATE delivery_otp.attempt SET outcome = 'rejected'
            WHERE id = ANY (p_rejected) AND outcome = 'interrupted' AND source = 'online';
            IF v_count = 0 THEN
                RETURN;
            END IF;
            SELECT latest INTO v_latest FROM delivery_otp.clock WHERE id = 1;
            SELECT max(t) INTO v_newest FROM unnest(p_times) AS t
            WHERE t <= v_now + v_tolerance AND (v_latest IS NULL OR t >= v_latest - v_tolerance);
            IF v_newest IS NOT NULL AND (v_latest IS NULL OR v_newest > v_latest + 60) THEN
                INSERT INTO delivery_otp.clock (id, latest) VALUES (1, v_newest)
                ON CONFLICT (id) DO UPDATE SET latest = GREATEST(delivery_otp.clock.latest, excluded.latest);
            END IF;
            FOR i IN 1 .. v_count LOOP
                IF p_times[i] > v_now + v_tolerance THEN
                    kinds[i] := 'ahead'; ats[i] := v_now;
                ELSIF v_latest IS NOT NULL AND p_times[i] < v_latest - v_tolerance THEN
                    kinds[i] := 'clock'; ats[i] := v_latest;
                END IF;
            END LOOP;
            INSERT INTO delivery_otp.counter (scope, shipment, delivery_date)
            SELECT DISTINCT u.scope, u.shipment, u.day
            FROM unnest(p_scopes, p_shipments, p_dates) WITH ORDINALITY AS u(scope, shipment, day, i)
            WHERE kinds[u.i] = ''
            ORDER BY 1, 2, 3
            ON CONFLICT DO NOTHING;
            PERFORM 1 FROM delivery_otp.counter c
            WHERE (c.scope, c.shipment, c.delivery_date) IN (
                SELECT u.scope, u.shipment, u.day
                FROM unnest(p_scopes, p_shipments, p_dates) WITH ORDINALITY AS u(scope, shipment, day, i)
                WHERE kinds[u.i] = '')
            ORDER BY c.scope, c.shipment, c.delivery_date
            FOR UPDATE OF c;
            WITH input AS (
                -- The limit as the service allows it, 1 to 10, whoever calls.
                SELECT u.scope, u.shipment, u.day, LEAST(GREATEST(u.lim, 1), 10) AS lim, u.caller, u.time, u.i::integer AS i
                FROM unnest(p_scopes, p_shipments, p_dates, p_limits, p_callers, p_times)
                    WITH ORDINALITY AS u(scope, shipment, day, lim, caller, time, i)
                WHERE kinds[u.i] = ''),
            ranked AS (
                SELECT n.*, c.counted AS c0, c.locked_at AS l0, c.accepted_at AS a0,
                    row_number() OVER (PARTITION BY n.scope, n.shipment, n.day ORDER BY n.i) AS k
                FROM input n
                JOIN delivery_otp.counter c ON c.scope = n.scope AND c.shipment = n.shipment AND c.delivery_date = n.day),
            flagged AS (
                -- Whether every earlier attempt for the shipment in this batch was counted without locking it.
                SELECT r.*, COALESCE(bool_and(r.c0 + r.k < r.lim) OVER (
                    PARTITION BY r.scope, r.shipment, r.day ORDER BY r.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS open
                FROM ranked r),
            decided AS (
                SELECT f.*, nextval('delivery_otp.attempt_id_seq') AS id,
                    CASE WHEN f.a0 IS NOT NULL THEN 'already-accepted'
                         WHEN f.l0 IS NULL AND f.open AND f.c0 + f.k <= f.lim THEN 'counted'
                         ELSE 'locked' END AS kind
                FROM (SELECT * FROM flagged ORDER BY flagged.i) f),
            stored AS (
                INSERT INTO delivery_otp.attempt (id, time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                SELECT d.id, d.time, d.shipment, d.day, d.scope, CASE d.kind WHEN 'counted' THEN 'interrupted' ELSE d.kind END,
                    CASE d.kind WHEN 'counted' THEN d.c0 + d.k END, d.caller, 'online'
                FROM decided d ORDER BY d.i),
            moved AS (
                UPDATE delivery_otp.counter c
                SET counted = c.counted + s.added, locked_at = COALESCE(c.locked_at, s.lock_time)
                FROM (
                    SELECT d.scope, d.shipment, d.day, count(*) FILTER (WHERE d.kind = 'counted') AS added,
                        (array_agg(d.time ORDER BY d.i)
                            FILTER (WHERE d.kind = 'locked' OR (d.kind = 'counted' AND d.c0 + d.k >= d.lim)))[1] AS lock_time
                    FROM decided d WHERE d.a0 IS NULL GROUP BY d.scope, d.shipment, d.day) s
                WHERE c.scope = s.scope AND c.shipment = s.shipment AND c.delivery_date = s.day
                    AND (s.added > 0 OR (c.locked_at IS NULL AND s.lock_time IS NOT NULL)))
            SELECT array_agg(d.i), array_agg(d.kind), array_agg(d.id), array_agg(CASE d.kind WHEN 'counted' THEN d.c0 + d.k ELSE 0 END),
                array_agg(COALESCE(d.a0, 0))
            INTO v_index, v_kind, v_ticket, v_number, v_at
            FROM decided d;
            FOR j IN 1 .. COALESCE(cardinality(v_index), 0) LOOP
                kinds[v_index[j]] := v_kind[j];
                IF v_kind[j] = 'counted' THEN
                    tickets[v_index[j]] := v_ticket[j]; numbers[v_index[j]] := v_number[j];
                END IF;
                ats[v_index[j]] := v_at[j];
            END LOOP;
        END;
        $$;

        -- A verdict is stored only for an online attempt still waiting for it, and an accepted one
        -- records the handover only then: no caller can turn a device's uploaded line, or an
        -- attempt already decided, into a handover.
        CREATE OR REPLACE FUNCTION delivery_otp.finish_attempt(p_ticket bigint, p_accepted boolean, p_time bigint, p_durable boolean)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            v_row delivery_otp.attempt%ROWTYPE;
        BEGIN
            IF NOT p_durable THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            UPDATE delivery_otp.attempt SET outcome = CASE WHEN p_accepted THEN 'accepted' ELSE 'rejected' END
            WHERE id = p_ticket AND outcome = 'interrupted' AND source = 'online'
            RETURNING * INTO v_row;
            IF FOUND AND p_accepted THEN
                UPDATE delivery_otp.counter SET accepted_at = COALESCE(accepted_at, p_time)
                WHERE scope = v_row.scope AND shipment = v_row.shipment AND delivery_date = v_row.delivery_date;
            END IF;
        END;
        $$;
        """

    /// Version 5: a counter row that a batch creates gets its final count and lock in the
    /// insert, where version 4 inserted it empty and then locked, read and updated it: three
    /// more index descents, a row lock and a second version of the row. Most verifies are a
    /// shipment's first attempt, so this saves that on nearly every verify, in the database,
    /// which every replica shares (a batch of 32 new shipments: about an eighth less time in
    /// `admit_batch`, BENCHMARKS.md). The answers are version 4's: a test sends the same random
    /// batches to both versions and compares every answer and every row.
    static let version5 = """
        CREATE OR REPLACE FUNCTION delivery_otp.admit_batch(
            p_rejected bigint[], p_scopes text[], p_shipments text[], p_dates text[], p_limits integer[], p_callers text[],
            p_times bigint[], p_tolerance bigint,
            OUT kinds text[], OUT tickets bigint[], OUT numbers bigint[], OUT ats bigint[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
        DECLARE
            v_count integer := COALESCE(cardinality(p_scopes), 0);
            v_now bigint := extract(epoch FROM clock_timestamp())::bigint;
            -- As in version 4: the service's tolerance at most, the limit 1 to 10, whoever calls.
            v_tolerance bigint := LEAST(GREATEST(p_tolerance, 0), 600);
            v_latest bigint;
            v_newest bigint;
            -- The positions of the attempts whose counter row this batch created.
            v_fresh integer[];
            v_index integer[];
            v_kind text[];
            v_ticket bigint[];
            v_number bigint[];
            v_at bigint[];
        BEGIN
            kinds := array_fill(''::text, ARRAY[v_count]);
            tickets := array_fill(0::bigint, ARRAY[v_count]);
            numbers := array_fill(0::bigint, ARRAY[v_count]);
            ats := array_fill(0::bigint, ARRAY[v_count]);
            IF v_count = 0 THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            UPDATE delivery_otp.attempt SET outcome = 'rejected'
            WHERE id = ANY (p_rejected) AND outcome = 'interrupted' AND source = 'online';
            IF v_count = 0 THEN
                RETURN;
            END IF;
            SELECT latest INTO v_latest FROM delivery_otp.clock WHERE id = 1;
            SELECT max(t) INTO v_newest FROM unnest(p_times) AS t
            WHERE t <= v_now + v_tolerance AND (v_latest IS NULL OR t >= v_latest - v_tolerance);
            IF v_newest IS NOT NULL AND (v_latest IS NULL OR v_newest > v_latest + 60) THEN
                INSERT INTO delivery_otp.clock (id, latest) VALUES (1, v_newest)
                ON CONFLICT (id) DO UPDATE SET latest = GREATEST(delivery_otp.clock.latest, excluded.latest);
            END IF;
            FOR i IN 1 .. v_count LOOP
                IF p_times[i] > v_now + v_tolerance THEN
                    kinds[i] := 'ahead'; ats[i] := v_now;
                ELSIF v_latest IS NOT NULL AND p_times[i] < v_latest - v_tolerance THEN
                    kinds[i] := 'clock'; ats[i] := v_latest;
                END IF;
            END LOOP;
            -- Counter rows this batch creates get their final count and lock at once: the attempts
            -- for a new shipment are decided as for a count of 0 (the first ones counted while the
            -- limit allows, the rest locked), so such a row needs no lock and no update after.
            -- A row that exists, or that another batch inserted first, is left out (ON CONFLICT)
            -- and decided below from what it holds.
            WITH input AS (
                SELECT u.scope, u.shipment, u.day, LEAST(GREATEST(u.lim, 1), 10) AS lim, u.time, u.i::integer AS i,
                    row_number() OVER (PARTITION BY u.scope, u.shipment, u.day ORDER BY u.i) AS k
                FROM unnest(p_scopes, p_shipments, p_dates, p_limits, p_times) WITH ORDINALITY AS u(scope, shipment, day, lim, time, i)
                WHERE kinds[u.i] = ''),
            flagged AS (
                SELECT n.*, COALESCE(bool_and(n.k < n.lim) OVER (
                    PARTITION BY n.scope, n.shipment, n.day ORDER BY n.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS open
                FROM input n),
            created AS (
                INSERT INTO delivery_otp.counter (scope, shipment, delivery_date, counted, locked_at)
                SELECT f.scope, f.shipment, f.day, count(*) FILTER (WHERE f.open AND f.k <= f.lim),
                    (array_agg(f.time ORDER BY f.i) FILTER (WHERE NOT (f.open AND f.k <= f.lim) OR f.k >= f.lim))[1]
                FROM flagged f GROUP BY f.scope, f.shipment, f.day
                ORDER BY 1, 2, 3
                ON CONFLICT DO NOTHING
                RETURNING scope, shipment, delivery_date)
            SELECT array_agg(n.i) INTO v_fresh FROM input n JOIN created c
                ON c.scope = n.scope AND c.shipment = n.shipment AND c.delivery_date = n.day;
            v_fresh := COALESCE(v_fresh, '{}');
            -- The rows that existed, locked in key order (the rows created above are this
            -- transaction's until it commits).
            PERFORM 1 FROM delivery_otp.counter c
            WHERE (c.scope, c.shipment, c.delivery_date) IN (
                SELECT u.scope, u.shipment, u.day
                FROM unnest(p_scopes, p_shipments, p_dates) WITH ORDINALITY AS u(scope, shipment, day, i)
                WHERE kinds[u.i] = '' AND NOT (u.i::integer = ANY (v_fresh)))
            ORDER BY c.scope, c.shipment, c.delivery_date
            FOR UPDATE OF c;
            WITH input AS (
                SELECT u.scope, u.shipment, u.day, LEAST(GREATEST(u.lim, 1), 10) AS lim, u.caller, u.time, u.i::integer AS i,
                    u.i::integer = ANY (v_fresh) AS fresh
                FROM unnest(p_scopes, p_shipments, p_dates, p_limits, p_callers, p_times)
                    WITH ORDINALITY AS u(scope, shipment, day, lim, caller, time, i)
                WHERE kinds[u.i] = ''),
            -- Attempts for a created row start from a count of 0 without reading it again.
            joined AS (
                SELECT n.*, 0 AS c0, NULL::bigint AS l0, NULL::bigint AS a0 FROM input n WHERE n.fresh
                UNION ALL
                SELECT n.*, c.counted, c.locked_at, c.accepted_at
                FROM input n
                JOIN delivery_otp.counter c ON c.scope = n.scope AND c.shipment = n.shipment AND c.delivery_date = n.day
                WHERE NOT n.fresh),
            ranked AS (
                SELECT j.*, row_number() OVER (PARTITION BY j.scope, j.shipment, j.day ORDER BY j.i) AS k FROM joined j),
            flagged AS (
                SELECT r.*, COALESCE(bool_and(r.c0 + r.k < r.lim) OVER (
                    PARTITION BY r.scope, r.shipment, r.day ORDER BY r.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS open
                FROM ranked r),
            decided AS (
                SELECT f.*, nextval('delivery_otp.attempt_id_seq') AS id,
                    CASE WHEN f.a0 IS NOT NULL THEN 'already-accepted'
                         WHEN f.l0 IS NULL AND f.open AND f.c0 + f.k <= f.lim THEN 'counted'
                         ELSE 'locked' END AS kind
                FROM (SELECT * FROM flagged ORDER BY flagged.i) f),
            stored AS (
                INSERT INTO delivery_otp.attempt (id, time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                SELECT d.id, d.time, d.shipment, d.day, d.scope, CASE d.kind WHEN 'counted' THEN 'interrupted' ELSE d.kind END,
                    CASE d.kind WHEN 'counted' THEN d.c0 + d.k END, d.caller, 'online'
                FROM decided d ORDER BY d.i),
            moved AS (
                UPDATE delivery_otp.counter c
                SET counted = c.counted + s.added, locked_at = COALESCE(c.locked_at, s.lock_time)
                FROM (
                    SELECT d.scope, d.shipment, d.day, count(*) FILTER (WHERE d.kind = 'counted') AS added,
                        (array_agg(d.time ORDER BY d.i)
                            FILTER (WHERE d.kind = 'locked' OR (d.kind = 'counted' AND d.c0 + d.k >= d.lim)))[1] AS lock_time
                    FROM decided d WHERE d.a0 IS NULL AND NOT d.fresh GROUP BY d.scope, d.shipment, d.day) s
                WHERE c.scope = s.scope AND c.shipment = s.shipment AND c.delivery_date = s.day
                    AND (s.added > 0 OR (c.locked_at IS NULL AND s.lock_time IS NOT NULL)))
            SELECT array_agg(d.i), array_agg(d.kind), array_agg(d.id), array_agg(CASE d.kind WHEN 'counted' THEN d.c0 + d.k ELSE 0 END),
                array_agg(COALESCE(d.a0, 0))
            INTO v_index, v_kind, v_ticket, v_number, v_at
            FROM decided d;
            FOR j IN 1 .. COALESCE(cardinality(v_index), 0) LOOP
                kinds[v_index[j]] := v_kind[j];
                IF v_kind[j] = 'counted' THEN
                    tickets[v_index[j]] := v_ticket[j]; numbers[v_index[j]] := v_number[j];
                END IF;
                ats[v_index[j]] := v_at[j];
            END LOOP;
        END;
        $$;
        """

    /// Version 6: what a caller of the routines (a stolen service password) could still do,
    /// closed, as a review found it.
    /// - The shared clock's latest time stays between 1970 and the database's own clock. A batch
    ///   with a time of -2^63 stored that time, after which every batch on every replica failed
    ///   on an overflow (`latest - tolerance`): an outage until the owner mended the row. And a
    ///   replica up to the tolerance ahead moved the clock there, so that replicas a moment
    ///   behind the database were refused; now the database's clock is the furthest it goes.
    /// - A verdict that is not stored is an error. Another caller could settle an attempt first
    ///   (as rejected, through `admit_attempts`), and the replica then answered "accepted" for a
    ///   handover that the log does not hold; now it answers 503. An attempt more than 20 minutes
    ///   older than the shared clock (left interrupted by a crash) can no longer be settled, so it
    ///   cannot be turned into a handover later, and a handover's time stays within the tolerance
    ///   (600 s) of its attempt's, whatever time the caller gives.
    /// `finish_attempt` keeps its signature, so the rights given on it stay as they were.
    static let version6 = """
        -- Checks every time written to the clock row, whoever writes it. It only ever moves on
        -- (admit_batch takes the greater), so a time capped here is one the database has reached;
        -- a write that would not move it on is skipped.
        CREATE FUNCTION delivery_otp.bound_clock() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            IF NEW.latest < 0 THEN
                RAISE EXCEPTION 'the shared clock cannot be set before 1970' USING ERRCODE = '22008';
            END IF;
            NEW.latest := LEAST(NEW.latest, extract(epoch FROM clock_timestamp())::bigint);
            IF TG_OP = 'UPDATE' AND NEW.latest <= OLD.latest THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END;
        $$;
        -- A clock row set before this version is brought within the same bounds.
        UPDATE delivery_otp.clock SET latest = LEAST(GREATEST(latest, 0), extract(epoch FROM clock_timestamp())::bigint);
        CREATE TRIGGER bound_clock BEFORE INSERT OR UPDATE ON delivery_otp.clock
            FOR EACH ROW EXECUTE FUNCTION delivery_otp.bound_clock();

        -- A verdict is stored only for an online attempt still waiting for it and at most 20
        -- minutes older than the shared clock; any other is an error (SQLSTATE DO001), which
        -- settle_attempt passes on, so that no replica answers a verdict that was not stored.
        CREATE OR REPLACE FUNCTION delivery_otp.finish_attempt(p_ticket bigint, p_accepted boolean, p_time bigint, p_durable boolean)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            v_latest bigint;
            v_row delivery_otp.attempt%ROWTYPE;
        BEGIN
            IF NOT p_durable THEN
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            SELECT latest INTO v_latest FROM delivery_otp.clock WHERE id = 1;
            UPDATE delivery_otp.attempt SET outcome = CASE WHEN p_accepted THEN 'accepted' ELSE 'rejected' END
            WHERE id = p_ticket AND outcome = 'interrupted' AND source = 'online' AND (v_latest IS NULL OR time >= v_latest - 1200)
            RETURNING * INTO v_row;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'attempt % is not waiting for a verdict', p_ticket USING ERRCODE = 'DO001';
            END IF;
            IF p_accepted THEN
                UPDATE delivery_otp.counter
                SET accepted_at = COALESCE(accepted_at, LEAST(GREATEST(p_time, v_row.time - 600), v_row.time + 600))
                WHERE scope = v_row.scope AND shipment = v_row.shipment AND delivery_date = v_row.delivery_date;
            END IF;
        END;
        $$;
        """

    /// Version 7: a replica whose clock runs ahead of the database's (by more than a minute,
    /// within the tolerance) no longer takes the shared clock's row lock on every batch. Version
    /// 5's `admit_batch` compared the batch's newest time, uncapped, with the row's, which version
    /// 6's trigger keeps at or below the database's clock: so every batch of such a replica found
    /// the row more than a minute behind and locked it to move it on by a second or nothing, and
    /// those batches, and any other replica's that moved the clock, queued on that lock. The
    /// newest time is now capped before the comparison, so the row is written at most once a
    /// minute, as with clocks that agree. Nothing else changes: the function is version 5's
    /// text with that cap added. `v_newest` decides no answer, only whether the clock row is
    /// written; for such a replica the row now lags the database's clock by up to a minute, so
    /// the clock check is up to a minute looser for every replica, as it already was with clocks
    /// that agree. (The differential test compares the answers with version 4's, where clocks
    /// agree.)
    static let version7 = version5.replacingExactlyOnce(
        "WHERE t <= v_now + v_tolerance AND (v_latest IS NULL OR t >= v_latest - v_tolerance);\n",
        with: """
            WHERE t <= v_now + v_tolerance AND (v_latest IS NULL OR t >= v_latest - v_tolerance);
                -- Never past the database's clock, where the clock's trigger caps it anyway.
                -- (Not LEAST, which ignores a NULL: a batch with no time to take would then
                -- move the clock to the database's.)
                IF v_newest > v_now THEN
                    v_newest := v_now;
                END IF;

            """)
}

extension PostgresSchema {
    /// Version 8: a migration from now on may record the oldest release that may serve a database
    /// it has been applied to (``servedFrom``), so that a release refuses a newer schema only when
    /// it cannot serve it. Until now a replica restarted during an upgrade, after the owner's
    /// `migrate` and before its own binary was replaced, refused to start even when the new
    /// version only replaced a routine's body (as version 7 did).
    ///
    /// A table of its own rather than a column of `migration`: adding a column would lock that
    /// table, which every starting replica reads, for the whole migration.
    static let version8 = """
        CREATE TABLE delivery_otp.migration_served_from (
            version integer PRIMARY KEY,
            served_from integer NOT NULL CHECK (served_from >= 8 AND served_from < version));
        """
}

extension PostgresSchema {
    /// Version 9: a rejected verdict that rides on a batch is stored under the same bound as one
    /// given to `finish_attempt` since version 6: only for an attempt at most 20 minutes older
    /// than the shared clock. A review found that whoever held the service's password could
    /// still turn an attempt that a crash left `interrupted` into `rejected` through
    /// `admit_attempts`, however old; the replicas send a rejected verdict with their next batch,
    /// seconds after its attempt, and drop it if that batch fails. Nothing else changes: the
    /// function is version 7's text with that bound added, and keeps its signature, so the rights
    /// given on it stay, and a release of version 8, whose calls are this release's, may serve it.
    static let version9 = version7.replacingExactlyOnce(
        "WHERE id = ANY (p_rejected) AND outcome = 'interrupted' AND source = 'online';\n",
        with: """
            WHERE id = ANY (p_rejected) AND outcome = 'interrupted' AND source = 'online'
                    AND time >= COALESCE((SELECT c.latest FROM delivery_otp.clock c WHERE c.id = 1) - 1200, time);

            """)
}

extension String {
    /// This text with `target`, which it holds exactly once, replaced: for a migration written as
    /// an earlier one's text with one change, so that the change is all there is to read.
    fileprivate func replacingExactlyOnce(_ target: String, with replacement: String) -> String {
        let parts = components(separatedBy: target)
        precondition(parts.count == 2, "the migration text to replace is not there exactly once")
        return parts[0] + replacement + parts[1]
    }
}
