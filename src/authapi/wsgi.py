"""The WSGI entry point gunicorn serves."""

from authapi import create_app, outbox

app = create_app()
if app.config["AUTHAPI_MAIL_WORKER"]:
    outbox.worker(app).wake()  # mail left pending by an earlier process goes out too
