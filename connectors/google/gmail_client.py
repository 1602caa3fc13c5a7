"""The Gmail calls syncd makes, each spent from one quota budget and retried by one policy.

Only four methods are used, all allowed with the ``gmail.metadata`` scope (docs/gmail.md#metadata-scope):
``getProfile``, ``messages.list`` (never ``q``: the metadata scope answers 403), ``messages.get`` with
``format=metadata`` and named headers (never ``full``/``raw``), and ``history.list``. Gets go in batches
of at most 50 (docs/gmail.md#batch-requests: "larger than 50 is not recommended"), built with an explicit
batch URI because ``new_batch_http_request()`` ignores the configured endpoint. What each call costs
depends on the quota regime the budget has inferred (:mod:`connectors.google.gmail_quota`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import ConnectorError
from connectors.google import auth as google_auth
from connectors.google.gmail_quota import CURRENT, HIGHEST, GmailBudget, gmail_throttle
from connectors.throttle import Retry, Throttle, shared_throttle

RESOURCE = "gmail"
BATCH_LIMIT = 50  # docs/gmail.md#batch-requests
LIST_PAGE = 500  # maxResults' maximum for messages.list and history.list (docs/gmail.md#listing-messages)
# Only what syncd.mailparse and the engine read: addresses, date, identity, subject, bulk markers.
HEADERS = ("From", "To", "Cc", "Date", "Message-ID", "Subject", "List-Id", "List-Unsubscribe", "Precedence",
           "Auto-Submitted")


class GoneError(Exception):
    """history.list answered 404: the start history id is too old (docs/gmail.md#incremental-sync)."""


class StalePageToken(Exception):
    """messages.list answered 400 to a saved pageToken: the listing has to start over."""


def default_throttle(account: str, settings: Mapping[str, Any]) -> Throttle:
    # One learning budget per account and endpoint, bounded by gmail_quota, shared by every pull of a
    # `syncd run` process (and the pull that follows an expired history id): Google counts per user.
    endpoint = str(settings.get("gmail_endpoint") or "")
    bound = int(settings.get("gmail_quota") or HIGHEST)
    return shared_throttle(("google", account, "gmail", endpoint, bound),
                           lambda: gmail_throttle(bound, batch=BATCH_LIMIT))


class GmailClient:
    """The account's Gmail service behind one :class:`Throttle`. Errors leave as ConnectorError (one sentence)."""

    def __init__(self, service: Any, endpoint: str, throttle: Throttle, account: str = "") -> None:
        self.account = account
        self.service = service
        self.users = service.users()
        # One resource object each: building one walks the discovery document (most of a batch's CPU).
        self.messages = self.users.messages()
        self.history = self.users.history()
        self.batch_uri = google_auth.batch_uri(endpoint, "gmail", "v1")
        self.throttle = throttle
        self.requests = 0  # HTTP requests made (a batch is one), for benchmarks

    def cost(self, method: str) -> int:
        """Quota units one call of ``method`` costs, in the regime the budget has inferred (the 2026 one when the
        budget does not learn)."""
        budget = self.throttle.budget
        return budget.cost(method) if isinstance(budget, GmailBudget) else CURRENT.costs[method]

    def _call(self, make: Callable[[], Any], method: str) -> Any:
        def run() -> Any:
            self.requests += 1
            return make().execute()

        answer = self.throttle.call(run, classify=google_auth.classify, units=self.cost(method),
                                    what=f"gmail {method}")
        return google_auth.api_answer(f"gmail {method}", answer)

    def profile(self) -> dict[str, Any]:
        try:
            return dict(self._call(lambda: self.users.getProfile(userId="me"), "getProfile"))
        except ConnectorError:
            raise
        except Exception as exc:
            raise google_auth.describe_error("gmail getProfile", exc, self.account) from None

    def list_page(self, page_token: str | None) -> dict[str, Any]:
        # labelIds-free and includeSpamTrash false: the whole mailbox minus spam and trash, newest first.
        def make() -> Any:
            kwargs: dict[str, Any] = {"userId": "me", "maxResults": LIST_PAGE, "includeSpamTrash": False}
            if page_token:
                kwargs["pageToken"] = page_token
            return self.messages.list(**kwargs)

        try:
            return dict(self._call(make, "messages.list"))
        except ConnectorError:
            raise
        except Exception as exc:
            if page_token and google_auth.status_of(exc) == 400:
                raise StalePageToken() from None
            raise google_auth.describe_error("gmail messages.list", exc, self.account) from None

    def history_page(self, start: str, page_token: str | None) -> dict[str, Any]:
        def make() -> Any:
            kwargs: dict[str, Any] = {"userId": "me", "startHistoryId": start, "maxResults": LIST_PAGE}
            if page_token:
                kwargs["pageToken"] = page_token
            return self.history.list(**kwargs)

        try:
            return dict(self._call(make, "history.list"))
        except ConnectorError:
            raise
        except Exception as exc:
            if google_auth.status_of(exc) == 404:
                raise GoneError() from None
            raise google_auth.describe_error("gmail history.list", exc, self.account) from None

    def _batch(self, ids: list[str], answers: _Answers) -> None:
        from googleapiclient.http import BatchHttpRequest

        batch = BatchHttpRequest(callback=answers, batch_uri=self.batch_uri)
        for message_id in ids:
            batch.add(self.messages.get(userId="me", id=message_id, format="metadata", metadataHeaders=list(HEADERS)),
                      request_id=message_id)
        self.requests += 1
        batch.execute()

    def get_many(self, ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """Metadata of ``ids``: (id → message, ids that are gone). Every id is answered, or this raises.

        A batch's parts are not retried by the library (docs/gmail.md#batch-requests), so the parts that
        failed transiently (429, 5xx, rate 403) are sent again in a smaller batch after the policy's backoff;
        a run that cannot fetch them all fails, and says how many were missing, rather than skip them. The
        budget hears how many parts Google accepted and how many it refused for the rate.
        """
        found: dict[str, dict[str, Any]] = {}
        gone: set[str] = set()
        policy = self.throttle.policy
        budget = self.throttle.budget
        left = list(dict.fromkeys(ids))
        while left:
            # As many gets as the window has room for (up to a full batch): a window that a smaller call (a
            # listing) left short of a whole batch is filled, not waited out (docs/gmail.md#learning-the-rate).
            size = budget.fits(self.cost("messages.get"), BATCH_LIMIT) if budget is not None else BATCH_LIMIT
            pending, left = left[:size], left[size:]
            tries = 0
            while pending:
                answers = _Answers(found, gone)
                cost = self.cost("messages.get")
                try:
                    self.throttle.call(functools.partial(self._batch, pending, answers),
                                       classify=google_auth.classify, units=cost * len(pending),
                                       what="gmail messages.get", settles=True)
                except ConnectorError:
                    raise
                except Exception as exc:
                    raise google_auth.describe_error("gmail messages.get", exc, self.account) from None
                if answers.fatal:
                    raise google_auth.describe_error("gmail messages.get", answers.fatal[0], self.account)
                refused = sum(1 for retry in answers.failed.values() if retry.throttled)
                if self.throttle.budget is not None:
                    self.throttle.budget.settle(cost * (len(pending) - refused))
                obeyed = refused > 0 and self.throttle.refused(cost * refused)
                pending = list(answers.failed)
                if not pending:
                    break
                # Parts refused for the rate while the budget still slows down are not failed tries.
                tries += 0 if obeyed and refused == len(pending) else 1
                if tries >= policy.attempts:
                    why = next(iter(answers.failed.values())).why
                    raise ConnectorError(
                        f"gmail messages.get: {len(pending)} of {len(ids)} messages could not be fetched ({why}) "
                        f"after {policy.attempts} tries; the next pull goes on from here"
                    )
                self.throttle.retries += 1
                after = max((r.after or 0.0) for r in answers.failed.values()) or None
                self.throttle.sleep(policy.delay(max(tries - 1, 0), after))
        return found, gone


class _Answers:
    """What one batch's callback collected: fetched, gone (404), transient failures, other failures."""

    def __init__(self, found: dict[str, dict[str, Any]], gone: set[str]) -> None:
        self.found = found
        self.gone = gone
        self.failed: dict[str, Retry] = {}
        self.fatal: list[BaseException] = []

    def __call__(self, request_id: str, response: Any, exc: BaseException | None) -> None:
        if exc is None:
            self.found[request_id] = dict(response)
            return
        if google_auth.status_of(exc) == 404:
            self.gone.add(request_id)  # deleted between list and get: not an error (docs/gmail.md#getting-a-message)
            return
        retry = google_auth.classify(exc)
        if retry is None:
            self.fatal.append(exc)
        else:
            self.failed[request_id] = retry
