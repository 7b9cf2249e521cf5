-- Bulk load of synthetic flights into flight_data (the node's schema, created by its
-- migrations) for tests/bench/flight_queries_load.sh. Runs server-side in one statement:
--
--   psql -v n=1000000 -v airports=LIRF,EDDF,... -v days=60 -v per_aircraft=200 \
--        -f tests/bench/flight_data_load.sql
--
-- What the data looks like:
-- - n flights over the last `days` days (up to now), each departing from one airport of
--   the list and arriving at another one (never the same).
-- - Airports are not equally busy: the k-th of the list (k = 1..A) is picked with a weight
--   falling linearly from 3 (first) to 1 (last), for departures and arrivals alike. With 50
--   airports and 1 M flights over 60 days the first one sees about 1000 movements a day,
--   the last about 330, the median airport 670.
-- - A fleet of ceil(n / per_aircraft) aircraft (icao24 400000 + 97 * aircraft, in hex),
--   each flying per_aircraft flights one after the other: flight s of an aircraft starts
--   in the s-th of per_aircraft equal slots of the period and lands within it, so an
--   aircraft's flights never overlap and (icao24, first_seen) is unique by construction.
--   Rows are generated slot by slot, so the table is roughly in time order, as the
--   collector's daily inserts leave it.
-- - Block time 30 min to 3 h 50 min, fixed per airport pair, plus up to ±5 min of jitter;
--   first_seen uniform within its slot; last_seen = first_seen + block time.
-- - Callsigns from 12 airline prefixes; distances and candidate counts random, about 5%
--   of each NULL (OpenSky did not know).
-- Optional: -v now=UNIX_SECONDS (the end of the period; default the current time) and
-- -v seed=X (setseed, -1..1): two loads with the same now and seed store the same rows
-- (flight_queries_load.sh --baseline-bin loads one database per build).
\set ON_ERROR_STOP on
\if :{?now}
\else
SELECT extract(epoch FROM date_trunc('second', now()))::bigint AS now \gset
\endif
\if :{?seed}
SELECT setseed(:seed) \gset
\endif

INSERT INTO flight_data (icao24, first_seen, est_departure_airport, last_seen,
  est_arrival_airport, callsign, est_departure_airport_horiz_distance,
  est_departure_airport_vert_distance, est_arrival_airport_horiz_distance,
  est_arrival_airport_vert_distance, departure_airport_candidates_count,
  arrival_airport_candidates_count)
WITH p AS (
  SELECT a AS airports, cardinality(a) AS na,
         (:now)::bigint AS now_s,
         (:days)::bigint * 86400 AS span,
         greatest(1, ceil((:n)::numeric / (:per_aircraft)))::bigint AS fleet
  FROM (SELECT string_to_array(:'airports', ',') AS a) s
),
-- Weighted pick: airport k appears round(30 * weight) times in this array.
pick AS (
  SELECT array_agg(k ORDER BY k) AS t, count(*)::int AS len
  FROM p, generate_series(1, p.na) AS k,
       generate_series(1, round(30 * (3 - 2.0 * (k - 1) / greatest(p.na - 1, 1)))::int) AS j
)
SELECT icao24, first_seen, airports[dep], first_seen + block, airports[arr], callsign,
       dep_horiz, dep_vert, arr_horiz, arr_vert, dep_candidates, arr_candidates
FROM (
  SELECT *, now_s - span + seq * slot_len + floor(random() * (slot_len - block))::bigint
              AS first_seen
  FROM (
    SELECT *, (1800 + ((dep * 37 + arr * 53) % 41) * 300 + floor(random() * 601) - 300)::bigint
                AS block
    FROM (
      SELECT i, airports, now_s, span,
             i / fleet AS seq, span / ceil((:n)::numeric / fleet)::bigint AS slot_len,
             lpad(to_hex(4194304 + (i % fleet) * 97), 6, '0') AS icao24,
             (ARRAY['DLH', 'AFR', 'BAW', 'ITY', 'KLM', 'RYR', 'EZY', 'IBE', 'SWR', 'AUA',
                    'SAS', 'TAP'])[1 + (i % fleet) % 12] || (10 + (i * 7) % 9000)::text
               AS callsign,
             d AS dep,
             CASE WHEN a <> d THEN a ELSE 1 + (d + (i % (na - 1))) % na END AS arr,
             CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 8000)::bigint END
               AS dep_horiz,
             CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 400)::bigint END
               AS dep_vert,
             CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 8000)::bigint END
               AS arr_horiz,
             CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 400)::bigint END
               AS arr_vert,
             CASE WHEN random() < 0.05 THEN NULL ELSE 1 + floor(random() * 6)::bigint END
               AS dep_candidates,
             CASE WHEN random() < 0.05 THEN NULL ELSE 1 + floor(random() * 6)::bigint END
               AS arr_candidates
      FROM (
        SELECT i, p.*, pick.t[1 + floor(random() * pick.len)::int] AS d,
               pick.t[1 + floor(random() * pick.len)::int] AS a
        FROM p, pick, generate_series(0, (:n)::bigint - 1) AS i
        OFFSET 0 -- keeps random() evaluated once per row
      ) picked
      OFFSET 0
    ) timed
    OFFSET 0
  ) placed
  OFFSET 0
) f;

-- The node keeps per-hour counters beside the flights it stores (flight_hourly_counts,
-- persistence/flight_counts.hpp). Flights loaded behind its back need them built here,
-- as the node's migration 4 builds them from the flights it finds. A schema from before
-- migration 4 (an older node, as flight_queries_load.sh --baseline-bin starts first) has no
-- such table: then this part is skipped, and the newer node's migration 4 fills it later.
SELECT to_regclass('flight_hourly_counts') IS NOT NULL AS has_hourly_counts \gset
\if :has_hourly_counts
\ir flight_hourly_backfill.sql
\endif
