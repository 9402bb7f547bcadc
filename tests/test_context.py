"""authapi.context hands out the current app, request and `g` themselves, not proxies,
and fails outside a context exactly as Flask's proxies do."""

from __future__ import annotations

import pytest
from flask import Flask, Request, g, request
from werkzeug.local import LocalProxy

from authapi import context


def test_outside_a_context_it_raises_what_flask_raises():
    for read in (context.app, context.request, context.g):
        with pytest.raises(RuntimeError, match="Working outside of"):
            read()


def test_it_returns_the_objects_behind_the_proxies():
    app = Flask(__name__)
    with app.test_request_context("/x?y=1"):
        assert context.app() is app
        assert context.request() is request._get_current_object()  # type: ignore[attr-defined]
        assert context.g() is g._get_current_object()  # type: ignore[attr-defined]
        for read in (context.app, context.request, context.g):
            assert not isinstance(read(), LocalProxy)
        assert isinstance(context.request(), Request) and context.request().args["y"] == "1"


def test_each_app_and_request_is_its_own():
    first, second = Flask("first"), Flask("second")
    with first.test_request_context("/a"):
        context.g().mark = "first"
        with second.test_request_context("/b"):
            assert context.app() is second and context.request().path == "/b"
            assert "mark" not in context.g()
        assert context.app() is first and context.request().path == "/a"
        assert context.g().mark == "first"
