"""Google OAuth for an installed app: the account's credentials, their refresh and save-back, and login.

Shared by the Gmail, Calendar and Contacts connectors. Tokens live in syncd's token store as the authorized-user JSON
google-auth writes (``Credentials.to_json()``; it holds the client secret too, so all of it is a secret). Least
privilege (docs/gmail.md#metadata-scope, docs/google-calendar.md#scopes): ``gmail.metadata`` (never with
``gmail.readonly``: Google applies the metadata restrictions to the whole token), ``calendar.events.readonly`` to
read meetings, ``calendar.app.created`` to write into a dedicated calendar syncd creates, ``calendar.events`` only
when the user opts into writing into an existing calendar, ``contacts.readonly`` only for an account that reads
its contacts (docs/google-people.md#scope).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import AuthRequired, ConnectorError, SecretSlot
from connectors.throttle import Retry, parse_retry_after

GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
CALENDAR_READ = "https://www.googleapis.com/auth/calendar.events.readonly"
CALENDAR_APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
# calendar.app.created does not cover calendarList.list (calendar.v3.json), and the list is how syncd finds
# the calendar it created again after a lost answer or on another machine.
CALENDAR_LIST_READ = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
# Google Contacts, read only (docs/google-people.md#scope); asked only for accounts with contacts = true.
CONTACTS_READ = "https://www.googleapis.com/auth/contacts.readonly"
# Reasons of a 403 that mean "slow down", not "forbidden" (docs/gmail.md#quota,
# docs/google-calendar.md#quota-and-errors).
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


def account_throttle(account: str, api: str, endpoint: str, per_minute: int) -> Any:
    """One budget per account and API (Gmail quota units; Calendar requests): Google counts per user.
    (A changed endpoint or quota after a config reload starts a new one.)"""
    from connectors.throttle import RateBudget, RetryPolicy, Throttle, shared_throttle

    return shared_throttle(("google", account, api, endpoint, per_minute),
                           lambda: Throttle(RateBudget(per_minute, 60), RetryPolicy()))


def scopes(settings: Mapping[str, Any]) -> list[str]:
    wanted = []
    if settings.get("gmail", True):
        wanted.append(GMAIL_METADATA)
    if settings.get("followups_target"):
        # calendar.events also reads every calendar, so it replaces the read-only scope.
        if settings.get("followups_calendar_id"):
            wanted.append(CALENDAR_EVENTS)
        else:
            wanted += [CALENDAR_APP_CREATED, CALENDAR_LIST_READ]
    if settings.get("calendars", ("primary",)) and CALENDAR_EVENTS not in wanted:
        wanted.append(CALENDAR_READ)
    if settings.get("contacts"):
        wanted.append(CONTACTS_READ)
    return wanted


def _credentials_class() -> type:
    from google.auth.exceptions import RefreshError
    from google.oauth2.credentials import Credentials

    class SavedCredentials(Credentials):
        """Credentials that write a refreshed token back to the token store and turn revocation into "needs login"."""

        account: str = ""
        slot: SecretSlot | None = None

        def refresh(self, request: Any) -> None:
            try:
                super().refresh(request)  # type: ignore[no-untyped-call]  # google-auth ships no annotations here
            except RefreshError as exc:
                if not getattr(exc, "retryable", False):
                    raise AuthRequired(self.account, _refresh_reason(exc)) from None
                raise
            if self.slot is not None:
                self.slot.set(self.to_json())  # type: ignore[no-untyped-call]  # likewise unannotated in google-auth

    return SavedCredentials


def _refresh_reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else ""
    if "invalid_grant" in text:
        return "the token was revoked or has expired"
    if "invalid_client" in text or "unauthorized_client" in text:
        return "the OAuth client was deleted or changed"
    return "the token could not be refreshed"


def load_credentials(account: str, settings: Mapping[str, Any], slot: SecretSlot | None) -> Any:
    """The account's credentials from the token store, bound to it so refreshes are saved back."""
    text = slot.get() if slot is not None else None
    if not text:
        raise AuthRequired(account, "no login stored")
    try:
        info = json.loads(text)
        refresh_token, client_id, client_secret = info["refresh_token"], info["client_id"], info["client_secret"]
    except (ValueError, KeyError, TypeError):
        raise AuthRequired(account, "the stored login is unreadable") from None
    granted = set(info.get("scopes") or [])
    missing = [scope.rsplit("/", 1)[-1] for scope in scopes(settings) if granted and scope not in granted
               and not (scope == CALENDAR_READ and CALENDAR_EVENTS in granted)]
    if missing:
        # The configuration asks for more than the login allowed (e.g. the account now holds follow-ups).
        raise AuthRequired(account, f"the login lacks the permission {', '.join(missing)}")
    expiry = None
    if info.get("expiry"):
        try:  # google-auth keeps expiry naive in UTC
            expiry = datetime.fromisoformat(str(info["expiry"]).rstrip("Z")).replace(tzinfo=None)
        except ValueError:
            expiry = None
    # Built directly, not with from_authorized_user_info, which always resets token_uri to Google's
    # (docs/google-oauth.md): the configured token_uri must win, for proxies and the tests' fake.
    creds = _credentials_class()(
        token=info.get("token"),
        refresh_token=refresh_token,
        token_uri=settings.get("token_uri") or info.get("token_uri"),
        client_id=client_id,
        client_secret=client_secret,
        scopes=info.get("scopes") or scopes(settings),
        expiry=expiry,
    )
    creds.account = account
    creds.slot = slot
    return creds


def authorized_http(credentials: Any, timeout: float = 60.0) -> Any:
    import google_auth_httplib2
    import httplib2

    # httplib2 resends a request itself when a connection drops before the answer (RETRIES = 2), a POST
    # included, so an insert could land twice behind the throttle's back; every retry goes through it instead.
    httplib2.RETRIES = 1
    http = httplib2.Http(timeout=timeout)
    # Google's APIs do not redirect; a redirect would carry a batch's per-part Authorization headers elsewhere.
    http.follow_redirects = False
    return google_auth_httplib2.AuthorizedHttp(credentials, http=http)


def build_service(api: str, version: str, endpoint: str, http: Any) -> Any:
    """A discovery client on ``endpoint``, from the discovery documents bundled with the library (no fetch)."""
    from googleapiclient.discovery import build

    return build(
        api, version, http=http, static_discovery=True, cache_discovery=False,
        client_options={"api_endpoint": endpoint},
    )


def batch_uri(endpoint: str, api: str, version: str) -> str:
    """Where batches for ``endpoint`` go.

    ``new_batch_http_request()`` ignores ``api_endpoint`` and always posts to Google's host
    (docs/gmail.md#batch-requests; googleapis/google-api-python-client#1107), so the URI is built here from the
    endpoint:
    Google's batch path ``batch/<api>/<version>`` on the endpoint's root, which keeps any proxy prefix
    (``https://proxy/google/`` → ``https://proxy/google/batch/gmail/v1``; ``…/calendar/v3/`` → ``…/batch/calendar/v3``).
    """
    root = endpoint.rstrip("/")
    suffix = f"/{api}/{version}"
    if root.endswith(suffix):
        root = root[: -len(suffix)]
    return f"{root}/batch/{api}/{version}"


def http_error_reason(exc: Any) -> str:
    """The first ``reason`` of a googleapiclient HttpError ("notFound", "rateLimitExceeded", ...), or ""."""
    details = getattr(exc, "error_details", None)
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and item.get("reason"):
                return str(item["reason"])
    try:
        body = json.loads(exc.content)
        errors = body["error"].get("errors") or []
        return str(errors[0].get("reason", "")) if errors else str(body["error"].get("status", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""


def status_of(exc: BaseException) -> int | None:
    from googleapiclient.errors import HttpError

    return int(exc.resp.status) if isinstance(exc, HttpError) else None


def classify(exc: BaseException) -> Retry | None:
    """Transient Google failures for :class:`connectors.throttle.Throttle`: 429, 5xx, rate 403s, dropped connections."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason = http_error_reason(exc)
        after = parse_retry_after(exc.resp.get("retry-after"))
        if status == 429:
            return Retry(f"HTTP 429 {reason}".strip(), after, throttled=True)
        if status >= 500:
            return Retry(f"HTTP {status} {reason}".strip(), after)
        if status == 403 and reason in RATE_REASONS:
            return Retry(f"HTTP 403 {reason}", after, throttled=True)
        return None
    if isinstance(exc, ConnectionError | TimeoutError):
        return Retry(type(exc).__name__)
    import http.client

    from google.auth.exceptions import RefreshError, TransportError

    if isinstance(exc, http.client.HTTPException):  # IncompleteRead: reset in the middle of a body
        return Retry(type(exc).__name__)
    if isinstance(exc, TransportError) or (isinstance(exc, RefreshError) and getattr(exc, "retryable", False)):
        return Retry("the token endpoint did not answer")  # a 5xx or no network while refreshing
    import httplib2

    if isinstance(exc, httplib2.HttpLib2Error) and not isinstance(exc, httplib2.ServerNotFoundError):
        return Retry(type(exc).__name__)
    return None


def api_answer(what: str, answer: Any) -> Any:
    """A decoded API answer, or one sentence when it is not one: googleapiclient hands a body that is not JSON
    (a captive portal's or a proxy's page answering 200) back as a string."""
    if not answer or isinstance(answer, dict):  # a 204 (delete) comes back as ""
        return answer
    raise ConnectorError(
        f"{what}: the answer did not come from Google's API (a proxy or sign-in page?); check the network or the "
        "configured endpoint"
    )


def describe_error(what: str, exc: BaseException, account: str = "") -> ConnectorError:
    """One sentence for a Google failure that is not transient (never with a token in it).

    With ``account``, a 401 that survived google-auth's refresh is "needs login" for that account.
    """
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason = http_error_reason(exc)
        if status == 401 and account:
            return AuthRequired(account, "Google refused the login")
        if status == 403 and reason == "dailyLimitExceeded":
            return ConnectorError(f"{what}: Google's daily quota for your project is used up; syncd goes on tomorrow")
        if status == 403:
            why = reason or "forbidden"
            return ConnectorError(f"{what}: Google refused access ({why}); check the login's permissions")
        return ConnectorError(f"{what}: Google answered HTTP {status} {reason}".rstrip())
    import httplib2

    if isinstance(exc, httplib2.ServerNotFoundError):
        return ConnectorError(f"{what}: cannot reach Google ({exc}); check the network or the configured endpoint")
    return ConnectorError(f"{what}: {exc}")


# ---- login (syncd auth) -------------------------------------------------------------------------------------


def _client_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    path = settings.get("client_secret")
    if not path:
        raise ConnectorError(
            "set client_secret = \"<path of your OAuth client JSON>\" on the account first (create a "
            "\"Desktop app\" OAuth client in Google Cloud Console → APIs & Services → Credentials)"
        )
    try:
        data = json.loads(open(path, encoding="utf-8").read())  # noqa: SIM115 - tiny file
    except OSError as exc:
        raise ConnectorError(f"cannot read the OAuth client file {path}: {exc.strerror}") from None
    except ValueError:
        raise ConnectorError(f"{path} is not an OAuth client JSON file (download it again)") from None
    if not isinstance(data, dict) or not isinstance(data.get("installed") or data.get("web"), dict):
        raise ConnectorError(f"{path} is not an OAuth client of type \"Desktop app\" (no \"installed\" section)")
    section = data.get("installed") or data["web"]
    section["token_uri"] = settings.get("token_uri") or section.get("token_uri")
    return {"installed": section}


def login(
    account: str,
    settings: Mapping[str, Any],
    slot: SecretSlot,
    *,
    no_browser: bool = False,
    port: int = 8080,
    paste: bool = False,
    echo: Callable[[str], None] = print,
    read_line: Callable[[str], str] = input,
    timeout_seconds: float | None = 600,
) -> str:
    """Run the installed-app flow (loopback redirect, PKCE) and store the token; returns who logged in."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_config(_client_config(settings), scopes=scopes(settings))
    if paste:
        creds = _paste_flow(flow, port, echo, read_line)
    else:
        echo("Log in with Google in the browser. On a machine without a browser, run on your laptop "
             f"`ssh -L {port}:localhost:{port} <this host>` and open the address below there.")
        try:
            creds = flow.run_local_server(
                host="localhost", port=port, open_browser=not no_browser, timeout_seconds=timeout_seconds,
                authorization_prompt_message="Open this address to log in:\n{url}",
                success_message="syncd is logged in; you can close this tab.", prompt="consent",
            )
        except OSError as exc:
            raise ConnectorError(f"cannot listen on localhost:{port} ({exc.strerror}); pick another --port") from None
        except Exception as exc:  # oauthlib/requests errors name what went wrong, never the token
            raise ConnectorError(f"Google login failed: {exc}") from None
    if not creds.refresh_token:
        raise ConnectorError("Google sent no refresh token; remove syncd's access in your Google account, log in again")
    slot.set(creds.to_json())
    return _who(creds)


def _paste_flow(flow: Any, port: int, echo: Callable[[str], None], read_line: Callable[[str], str]) -> Any:
    """No listener: the browser's redirect to localhost fails, and the user pastes its address
    (docs/google-oauth.md)."""
    flow.redirect_uri = f"http://localhost:{port}/"
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    echo(f"Open this address in any browser and log in:\n{url}\n"
         "The browser then fails to load a localhost page: copy that page's address from the address bar.")
    answer = read_line("Paste the address here: ").strip()
    if not answer.startswith(("http://", "https://")) or "code=" not in answer:
        raise ConnectorError("that is not the address the browser was sent to (it contains code=...)")
    try:
        flow.fetch_token(authorization_response=answer.replace("http://", "https://", 1))
    except Exception as exc:  # oauthlib: mismatching state, invalid_grant, ...
        raise ConnectorError(f"Google login failed: {exc}") from None
    return flow.credentials


def _who(creds: Any) -> str:
    account = getattr(creds, "account", "") or ""
    return str(account) if account else "logged in"


def import_secret(account: str, settings: Mapping[str, Any], slot: SecretSlot, text: str) -> str:
    """Take an authorized-user JSON made elsewhere (``creds.to_json()``, gcloud's application_default_credentials)."""
    try:
        info = json.loads(text)
    except ValueError:
        raise ConnectorError("the file is not JSON (expected an authorized-user token file)") from None
    if not isinstance(info, dict):
        raise ConnectorError("the file is not an authorized-user token file")
    missing = [key for key in ("refresh_token", "client_id", "client_secret") if not info.get(key)]
    if missing:
        raise ConnectorError(f"the file lacks {', '.join(missing)}: it is not an authorized-user token file")
    granted = set(info.get("scopes") or [])
    if GMAIL_METADATA in granted and "https://www.googleapis.com/auth/gmail.readonly" in granted:
        # Google then applies the metadata restrictions to every call of the token (docs/gmail.md#metadata-scope).
        raise ConnectorError("the token holds gmail.metadata and gmail.readonly; make one with gmail.metadata only")
    info.setdefault("scopes", scopes(settings))
    slot.set(json.dumps(info))
    return str(info.get("account") or "imported")


def describe(text: str | None) -> str:
    """For ``syncd auth status``: what the stored login is, without any secret."""
    if not text:
        return "not logged in"
    try:
        info = json.loads(text)
    except ValueError:
        return "stored login is unreadable"
    names = [scope.rsplit("/", 1)[-1] for scope in info.get("scopes") or []]
    expiry = info.get("expiry")
    state = ""
    if expiry:
        try:
            when = datetime.fromisoformat(str(expiry).rstrip("Z")).replace(tzinfo=UTC)
            state = "; access token valid" if when > datetime.now(UTC) else "; access token expired (refreshed on use)"
        except ValueError:
            pass
    return f"logged in ({', '.join(names) or 'no scopes recorded'}){state}"
