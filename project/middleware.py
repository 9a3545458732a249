"""The admin's session, user and message middleware, passed over by the Tracking API.

A /v1/ request is authenticated by its write key and answers JSON to an SDK: sessions, users
and flash messages have nothing to do with it, yet they cost it 145k instructions, a sixth of
what Django spends on a bare view (callgrind). Each class is the stock middleware (the admin's
system checks look for them) with the Tracking API's paths let through.
"""

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware as StockAuthentication
from django.contrib.messages.middleware import MessageMiddleware as StockMessages
from django.contrib.sessions.middleware import SessionMiddleware as StockSessions
from django.http import HttpRequest, HttpResponseBase

TRACKING_API_PREFIX = "/v1/"


class BrowserOnly:
    get_response: Callable[[HttpRequest], HttpResponseBase]

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(TRACKING_API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(BrowserOnly, StockSessions):
    pass


class AuthenticationMiddleware(BrowserOnly, StockAuthentication):
    pass


class MessageMiddleware(BrowserOnly, StockMessages):
    pass
