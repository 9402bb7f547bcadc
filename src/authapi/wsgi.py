"""The WSGI entry point gunicorn serves (one import per worker: the app is not preloaded)."""

from authapi import create_app
from authapi.mail import outbox
from authapi.tokens import hostwatch

app = create_app()
hostwatch.start(app)  # one of the host's workers polls the revocation feed for all
if app.config["AUTHAPI_MAIL_WORKER"]:
    outbox.worker(app).wake()  # mail left pending by an earlier process goes out too
