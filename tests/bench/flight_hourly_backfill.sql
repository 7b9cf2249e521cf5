-- The per-hour counters (flight_hourly_counts, persistence/flight_counts.hpp) rebuilt from
-- the stored flights, as the node's migration 4 builds them: for flights loaded behind the
-- node's back. Plain SQL that PostgreSQL and SQLite both run (flight_data_load.sql includes
-- it; load_mix.sh runs it on its SQLite copy of the data set).
DELETE FROM flight_hourly_counts;
INSERT INTO flight_hourly_counts (airport, hour, arrivals, departures, departures_elsewhere)
SELECT airport, hour, sum(a), sum(d), sum(e) FROM (
  SELECT est_arrival_airport AS airport,
         ((last_seen - ((last_seen % 3600) + 3600) % 3600) / 3600) AS hour, 1 AS a, 0 AS d,
         0 AS e
  FROM flight_data WHERE est_arrival_airport <> ''
  UNION ALL
  SELECT est_departure_airport, ((first_seen - ((first_seen % 3600) + 3600) % 3600) / 3600),
         0, 1, CASE WHEN est_arrival_airport <> est_departure_airport THEN 1 ELSE 0 END
  FROM flight_data WHERE est_departure_airport <> ''
) AS x GROUP BY airport, hour;
