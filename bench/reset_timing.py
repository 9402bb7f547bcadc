"""POST /auth/password-reset: the time of a known against an unknown email, interleaved.

    python bench/reset_timing.py [DATABASE_URL]      # default: a fresh SQLite file

A real app through the test client, its outbox worker off: the answer never waits
on SMTP, and the link and mail of a known email are the worker's, after the answer
(recovery.handle_request). Each known email is a different account, so the hourly
link throttle would not apply; the first 50 pairs are a warm-up.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from authapi import bootstrap, create_app, db, migrations
from authapi.accounts import accounts

PAIRS = 600
WARM_UP = 50


def main() -> None:
    """Print the median and first quartile of each path, in milliseconds."""
    folder = tempfile.mkdtemp()
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{folder}/reset.db"
    migrations.upgrade(url)
    app = create_app({"AUTHAPI_DATABASE_URL": url, "AUTHAPI_INSTANCE_PATH": folder,
                      "AUTHAPI_BCRYPT_ROUNDS": 4, "AUTHAPI_MAIL_WORKER": False,
                      "AUTHAPI_ENV": "testing",
                      "AUTHAPI_RESET_RATE_PER_ADDRESS": "1000000 per hour"})
    bootstrap.run(app)
    with app.app_context():
        for number in range(PAIRS):
            accounts.create(f"user{number}@example.com", "correct horse battery staple")
        db.orm().commit()
    client = app.test_client()
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for number in range(PAIRS):
        for kind, email in (("known", f"user{number}@example.com"),
                            ("unknown", f"nobody{number}@example.com")):
            start = time.perf_counter()
            assert client.post("/auth/password-reset", json={"email": email}).status_code == 202
            times[kind].append(time.perf_counter() - start)
    for kind, values in times.items():
        kept = sorted(values[WARM_UP:])
        print(f"{kind:8} median {statistics.median(kept) * 1e3:.2f} ms, "
              f"p25 {kept[len(kept) // 4] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
