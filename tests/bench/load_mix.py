"""The seed's load mix (002 section 9) as a Locust scenario, run by tests/bench/load_mix.sh.

Every simulated user registers itself first, then loops over weighted tasks with a think
time between them (FW_MIX_THINK, "MIN-MAX" seconds, or "0" for none). Each request is
named by its route, so Locust reports latency per route; an answer with another status
than the route's success status (or a body that is not what the route promises) counts
as a failure. Users, e-mails, tax codes and Telegram ids carry FW_MIX_RUN, so repeated
runs on one database never collide.
"""

import itertools
import json
import os
import random
import uuid

from locust import between, constant, task
from locust.contrib.fasthttp import FastHttpUser

AIRPORTS = ["LICC", "LIRF", "LIMC", "KJFK", "EGLL", "RJTT", "EDDF", "LFPG", "OMDB"]
BUSY_AIRPORTS = ["LIRF", "EGLL", "EDDF", "LFPG"]  # the data set's busiest
ROLES = ["user-manager", "data-collector", "notifier", "sla-detector"]
RUN = os.environ.get("FW_MIX_RUN") or uuid.uuid4().hex[:8]
_serial = itertools.count(1)


def _think():
    spec = os.environ.get("FW_MIX_THINK", "1-2")
    if spec in ("", "0"):
        return constant(0)
    low, _, high = spec.partition("-")
    return between(float(low), float(high or low))


def _iban(serial):
    """An Italian IBAN with a valid ISO 13616 checksum."""
    bban = "X0542811101" + f"{serial:012d}"
    digits = "".join(str(int(c, 36)) for c in bban + "IT00")
    return f"IT{98 - int(digits) % 97:02d}{bban}"


def _new_user_body():
    n = next(_serial)
    return {
        "email": f"mix-{RUN}-{os.getpid()}-{n}@load.example.org",
        "first_name": "Load",
        "last_name": f"User {n}",
        "tax_code": f"MX{RUN}{os.getpid()}N{n}".upper()[:32],
        "iban": _iban(n),
    }


class FlightwatchUser(FastHttpUser):
    wait_time = _think()
    sla_document = None  # the node's SLA document, read once, posted back unchanged

    def call(self, method, path, name, expect, body=None, headers=None, check=None):
        kwargs = {"name": name, "catch_response": True, "headers": dict(headers or {})}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["headers"]["Content-Type"] = "application/json"
        with self.client.request(method, path, **kwargs) as r:
            if r.status_code != expect:
                r.failure(f"status {r.status_code}, expected {expect}: {(r.text or '')[:200]}")
            elif check is not None and not check(r):
                r.failure(f"unexpected body: {(r.text or '')[:200]}")
            else:
                r.success()
            return r

    def create_user(self, name="POST /user-manager/users", key=None):
        body = _new_user_body()
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        self.call("POST", "/user-manager/users", name, 201, body, headers)
        return body, headers

    def on_start(self):
        self.user, _ = self.create_user()
        self.interests = set()

    @task(1)
    def ping_every_role(self):
        for role in ROLES:
            self.call("GET", f"/{role}/ping", f"GET /{role}/ping", 200)

    @task(5)
    def user_lifecycle(self):
        body, _ = self.create_user()
        email = body["email"]
        self.call("GET", f"/user-manager/users/{email}", "GET /user-manager/users/{email}", 200,
                  check=lambda r: r.json().get("email") == email)
        chat = str(uuid.uuid4().int % 2**62 + 1)  # unique: another user's id is a 409
        self.call("POST", "/user-manager/users/telegram", "POST /user-manager/users/telegram",
                  200, {"email": email, "telegram_chat_id": chat})

    def read_flights(self, airport):
        self.call("GET", f"/data-collector/flights/{airport}",
                  "GET /data-collector/flights/{airport}", 200,
                  check=lambda r: isinstance(r.json(), list))

    def read_average(self, airport):
        self.call("GET", f"/data-collector/flights/average/{airport}?days=7",
                  "GET /data-collector/flights/average/{icao}", 200,
                  check=lambda r: r.json().get("airport_code") == airport)

    @task(10)
    def flight_reads(self):
        airport = random.choice(AIRPORTS)
        self.read_flights(airport)
        self.call("GET", f"/data-collector/flights/{airport}?type=arrivals",
                  "GET /data-collector/flights/{airport}?type=arrivals", 200,
                  check=lambda r: isinstance(r.json(), list))
        self.read_average(airport)
        self.call("GET", f"/data-collector/flights/last/{airport}",
                  "GET /data-collector/flights/last/{icao}", 200)

    def upsert_interest(self, name):
        airport = random.choice(AIRPORTS)
        high = random.randint(200, 900)
        body = {"email": self.user["email"], "airport_code": airport,
                "high_value": high, "low_value": random.randint(0, high - 1)}
        if airport in self.interests and name is None:
            self.call("PUT", "/data-collector/interests", "PUT /data-collector/interests", 200,
                      body)
        else:
            self.call("POST", "/data-collector/interests",
                      name or "POST /data-collector/interests", 201, body)
            self.interests.add(airport)

    @task(3)
    def add_or_update_interest(self):
        self.upsert_interest(None)

    @task(2)
    def idempotency_collision(self):
        body, headers = self.create_user("POST /user-manager/users (first of a key)")
        self.call("POST", "/user-manager/users", "POST /user-manager/users (replayed key)",
                  201, body, headers,
                  check=lambda r: r.headers.get("Idempotent-Replayed") == "true")

    @task(4)
    def interest_flood(self):
        for _ in range(5):
            self.upsert_interest("POST /data-collector/interests (flood)")

    @task(4)
    def heavy_reads_on_busy_airports(self):
        airport = random.choice(BUSY_AIRPORTS)
        self.read_average(airport)
        self.read_flights(airport)

    @task(3)
    def sla_config_read(self):
        r = self.call("GET", "/sla-detector/sla/config", "GET /sla-detector/sla/config", 200,
                      check=lambda r: "metrics" in r.json())
        if FlightwatchUser.sla_document is None and r.status_code == 200:
            FlightwatchUser.sla_document = r.json()

    @task(3)
    def sla_stats_read(self):
        self.call("GET", "/sla-detector/breach/stats", "GET /sla-detector/breach/stats", 200)

    @task(1)
    def sla_metrics(self):
        self.call("GET", "/sla-detector/metrics", "GET /sla-detector/metrics", 200)

    @task(2)
    def sla_health(self):
        self.call("GET", "/sla-detector/health", "GET /sla-detector/health", 200)

    @task(1)
    def sla_config_update(self):
        if FlightwatchUser.sla_document is None:
            self.sla_config_read()
        if FlightwatchUser.sla_document is not None:
            self.call("POST", "/sla-detector/sla/config", "POST /sla-detector/sla/config", 200,
                      FlightwatchUser.sla_document)
