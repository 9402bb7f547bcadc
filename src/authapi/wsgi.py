"""The WSGI entry point gunicorn serves."""

from authapi import create_app

app = create_app()
